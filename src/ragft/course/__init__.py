"""The course as a whole: the environment doctor (every component, end to end) and the course map."""
