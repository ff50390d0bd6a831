"""The tracking domain: experiments, runs, and the logging API."""
