"""PostgreSQL backend that authenticates with an RDS IAM token per new connection.

Use it as ``ENGINE: "testapp.db_iam"``; ``testapp.env.database_settings`` does so when
``DB_AUTH_MODE=iam``.
"""
