#!/usr/bin/env python3
"""Runs the Python tool (PyPI `bc-cli`, 0.8.2) against `bcli sandbox serve`, for scripts/bench.

Usage (with the venv's python, and HOME set to a fresh folder: the tool keeps its config, token
cache and per-run ledger under ~/.config/bcli, so a fresh HOME is a fresh store):

    HOME=$work/py.N venv/bin/python scripts/bench-pybcli.py SANDBOX_URL MANIFEST.yaml

Why in-process patches rather than configuration: the tool has no setting for its API host. Its
base URL is the constant `BC_BASE_URL` (`https://api.businesscentral.dynamics.com/v2.0`, read by
`bcli._url.build_url`), and its client-credentials auth calls MSAL, which talks to Entra ID. So this
launcher imports the tool, points the constant at the sandbox, replaces MSAL's confidential client
with one that asks the sandbox's token endpoint (the same form MSAL would send to Entra ID), writes
a `sandbox` profile, and then calls the tool's own console entry point with
`-p sandbox batch run MANIFEST --yes`. Everything after that — the Typer CLI, the manifest loader,
the per-step ledger rows, the httpx transport — is the tool's unchanged code, so the timing is the
tool's. The tool's manifest format is bcli's for these keys (`name`, `steps:` with `name`, `action`,
`endpoint`, `data`), so both tools run the same file and send the same requests.

Exit status: the tool's own (0 when every step succeeded). scripts/bench checks the sandbox's
journal afterwards, so a run that sent nothing cannot pass for a fast one.
"""

import json
import os
import sys
import urllib.parse
import urllib.request

# The sandbox's identity (Sources/Sandbox/SandboxDefaults.swift).
TENANT = "sandbox"
ENVIRONMENT = "production"
COMPANY_ID = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
CLIENT_ID = "bcli-sandbox"
CLIENT_SECRET = "bcli-sandbox-secret"


def main() -> int:
    if len(sys.argv) != 3:
        sys.stderr.write("usage: bench-pybcli.py SANDBOX_URL MANIFEST.yaml\n")
        return 2
    sandbox, manifest = sys.argv[1].rstrip("/"), sys.argv[2]
    if not os.path.isfile(manifest):
        sys.stderr.write(f"bench-pybcli: no manifest at {manifest}\n")
        return 2
    try:
        import msal  # noqa: F401  (the tool's dependency; patched below)
        import bcli._url
        import bcli.config._defaults as defaults
        from bcli_cli.app import main as tool_main
    except ImportError as error:
        sys.stderr.write(f"bench-pybcli: the Python tool is not importable ({error}); "
                         "run this with the python of a venv where bc-cli 0.8.2 is installed\n")
        return 3

    # 1. The hard-coded base URL: both the constant and the copy `bcli._url` imported by name. The
    #    tenant segment (which BC accepts, and bcli sends) makes the paths the same as bcli's.
    base = f"{sandbox}/v2.0/{TENANT}"
    defaults.BC_BASE_URL = base
    bcli._url.BC_BASE_URL = base

    # 2. MSAL: the tool builds `msal.ConfidentialClientApplication(client_id, authority,
    #    client_credential)` and calls `acquire_token_for_client(scopes)`. The stand-in posts the
    #    same client-credentials form to the sandbox's token endpoint and returns MSAL's result shape.
    class SandboxConfidentialClient:
        def __init__(self, client_id, authority=None, client_credential=None, **_):
            self.client_id, self.secret = client_id, client_credential

        def acquire_token_for_client(self, scopes, **_):
            form = urllib.parse.urlencode({
                "grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.secret, "scope": " ".join(scopes)}).encode()
            request = urllib.request.Request(f"{sandbox}/{TENANT}/oauth2/v2.0/token", data=form,
                                             headers={"Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                return json.loads(error.read() or b"{}") or {"error": f"HTTP {error.code}"}

    msal.ConfidentialClientApplication = SandboxConfidentialClient

    # 3. A `sandbox` profile in the (fresh) global config; the secret comes from the environment
    #    variable the profile names, as a user would set it up.
    os.makedirs(defaults.CONFIG_DIR, exist_ok=True)
    with open(defaults.CONFIG_FILE, "w") as config:
        config.write(
            "[defaults]\nprofile = \"sandbox\"\n\n"
            "[profiles.sandbox]\n"
            f"tenant_id = \"{TENANT}\"\nenvironment = \"{ENVIRONMENT}\"\ncompany_id = \"{COMPANY_ID}\"\n"
            f"auth_method = \"client_credentials\"\nclient_id = \"{CLIENT_ID}\"\n"
            "client_secret_env = \"BENCH_PYBCLI_SECRET\"\n")
    os.environ["BENCH_PYBCLI_SECRET"] = CLIENT_SECRET

    # 4. The tool's console entry point (`bcli` in the venv's bin), as if typed.
    sys.argv = ["bcli", "-q", "-p", "sandbox", "batch", "run", manifest, "--yes"]
    try:
        tool_main()
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
