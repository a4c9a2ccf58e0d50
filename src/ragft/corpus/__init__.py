"""The Django manual as data: reST sections, the corpus build, the 4.2 -> 5.2 diff, eval sets, loaders."""
