"""The shared data models: captured events and sessions, and the suite's intermediate representation."""
