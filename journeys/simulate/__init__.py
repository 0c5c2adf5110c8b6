"""Simulation before launch: the interpreter on a simulated clock in-process (`inprocess`), and the same run
through the real workflow on the time-skipping server (`temporal`).

`inprocess` imports only the pure packages; `temporal` imports the runtime.
"""
