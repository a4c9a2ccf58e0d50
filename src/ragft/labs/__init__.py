"""The graded labs: building, drift-checking and grading them with otter-grader, and each lab's checks."""
