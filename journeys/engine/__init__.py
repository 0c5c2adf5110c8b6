"""The journey semantics, pure: run state, the interpreter, quiet hours and caps, messages as a customer
receives them, and what travels between a run and its activities.

May import: `journeys.errors`, `journeys.format`, `journeys.templates`. No I/O and no clock read: time is
always passed in, so the workflow (real time) and the simulator (simulated time) decide alike.
"""
