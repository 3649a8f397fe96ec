"""The lab server's services: training jobs and their queue, estimates and budgets, sweeps, URL settings."""
