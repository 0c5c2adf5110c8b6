"""The HTTP server (`journeys serve`): the API, the web console, provider callbacks, inbound SMS and voice answers,
unsubscribe links.

May import `runtime` and everything below it; nothing imports it but the CLI and the runtime's dev setup.
"""
