"""API routers, one per resource under `/v1/`: each endpoint parses, authorizes, calls one
service and returns. May import services and schemas; `HTTPException` never leaves `api/`."""
