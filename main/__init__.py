"""The composition root: settings, the service container, the processes with their health probes,
the command line and the demo. The only package that imports every other one."""
