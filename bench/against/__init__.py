"""`python -m bench.against`: Gatehouse beside FastAPI + fastapi-users (Beanie) under uvicorn."""
