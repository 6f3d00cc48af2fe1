"""Single sign-on: OpenID Connect (``oidc``), a trusted reverse proxy (``proxy``), local
passwords kept for break-glass administrators (``local``), and the identity-provider groups that
give roles in namespaces (``services`` writes them, ``reads`` reads them). docs/operations.md.
"""
