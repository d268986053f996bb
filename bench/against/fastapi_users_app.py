"""The comparison app: FastAPI + fastapi-users 15 on Beanie, as its documentation sets it up.

Runs only in bench/against/.venv (never imported by Gatehouse or its tests):
    uvicorn --app-dir bench/against fastapi_users_app:app --loop uvloop --http httptools
Reads FU_MONGODB_URI and FU_MONGODB_DATABASE. Passwords hash with bcrypt at cost 12 (pwdlib),
as Gatehouse does; access tokens are HS256 JWTs living 15 minutes, sent as Bearer tokens.
fastapi-users has no refresh tokens, so there is no refresh route.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from beanie import Document, PydanticObjectId, init_beanie
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.password import PasswordHelper
from fastapi_users_db_beanie import BeanieBaseUser, BeanieUserDatabase, ObjectIDIDMixin
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from pymongo import AsyncMongoClient

SECRET = "bench-fastapi-users-secret-" + "z" * 32  # a throwaway benchmark secret
client: AsyncMongoClient = AsyncMongoClient(  # type: ignore[type-arg]
    os.environ["FU_MONGODB_URI"], uuidRepresentation="standard")
database = client[os.environ.get("FU_MONGODB_DATABASE", "fastapi_users_bench")]


class User(BeanieBaseUser, Document):  # type: ignore[misc]
    pass


class UserRead(schemas.BaseUser[PydanticObjectId]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserManager(ObjectIDIDMixin, BaseUserManager[User, PydanticObjectId]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_db() -> AsyncIterator[BeanieUserDatabase[User]]:
    yield BeanieUserDatabase(User)


# bcrypt at cost 12 only (the default helper puts argon2 first).
PASSWORDS = PasswordHelper(PasswordHash((BcryptHasher(rounds=12),)))


async def get_user_manager(
        user_db: BeanieUserDatabase[User] = Depends(get_user_db),  # noqa: B008 - FastAPI's way
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db, PASSWORDS)


def get_jwt_strategy() -> JWTStrategy[User, PydanticObjectId]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=15 * 60, algorithm="HS256")


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"),
    get_strategy=get_jwt_strategy)
fastapi_users = FastAPIUsers[User, PydanticObjectId](get_user_manager, [auth_backend])


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await init_beanie(database=database, document_models=[User])
    yield


app = FastAPI(lifespan=lifespan)
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth",
                   tags=["auth"])
app.include_router(fastapi_users.get_users_router(UserRead, schemas.BaseUserUpdate),
                   prefix="/users", tags=["users"])


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
