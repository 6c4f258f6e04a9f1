"""The ``chatface`` command line: thin doors that build render settings and call the engine or a job."""
