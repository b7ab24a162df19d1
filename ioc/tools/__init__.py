"""The running tools above the kernel: the city simulator and its anomalies, the producer,
replay, and the demo supervisor.

The kernel never imports this package; only the command line (:mod:`ioc.cli`) wires it.
"""
