"""`python worker.py`: a journeys worker against the configured Temporal server and store (as `journeys worker`)."""

from journeys.cli import main

if __name__ == "__main__":
    main(["worker"])
