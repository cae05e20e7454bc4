"""The `resumeflow` command line."""
