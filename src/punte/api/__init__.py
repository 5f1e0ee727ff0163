"""FastAPI application: SmartBill-compatible routes. Validation and orchestration only."""
