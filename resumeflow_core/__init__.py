"""Domain model shared by the runner and history services; no gRPC and no database in here."""
