#!/usr/bin/env python3
"""Changes the callback key in a minute, without a deploy, and shows it in effect.

  .venv/bin/python scripts/tools/rotate_key.py --stack NAME [--new-key KEY] [--region R]
                                              [--callback-url URL]
  .venv/bin/python scripts/tools/rotate_key.py --stack NAME --finish
  .venv/bin/python scripts/tools/rotate_key.py --stack NAME --emergency [--new-key KEY]

Writes the stack's key secret (the CallbackKeySecretArn output) as the ingress reads it:

- by default, a new key current and the current one previous: both are accepted, so
  Identomat's callbacks keep passing while you paste the new key into its company settings;
- --finish, once Identomat sends the new key: the previous one dropped;
- --emergency, when the key leaked: a new key current and none previous, at once.

The new key is generated (64 characters) unless --new-key gives one; it is printed once, to
paste into Identomat. Then, until the stack's CallbackKeyRefreshSeconds (plus a minute) have
passed, it posts a test session-change (session `rotate-<random>`, result `SMOKE_TEST`, deleted
afterwards) with each key, and prints when the new key passed and the dropped one was refused:
what every running ingress does within CallbackKeyRefreshSeconds of the write.

The stack's CallbackApiKey parameter is not changed. CloudFormation writes the secret only when
its template value changes, that is when a deploy passes a different CallbackApiKey or
CallbackApiKeyPrevious: a later `sam deploy` that passes neither (SAM keeps their previous
values) leaves the rotated key in place.

Credentials and region come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).
Exit 0 only when the secret was written and the new state was seen in effect.
"""
import argparse
import json
import pathlib
import re
import secrets
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import smoke  # noqa: E402  (its stack outputs and POST)

# The CallbackApiKey parameter's rule (template.yaml): 16 to 256 of these characters.
KEY = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


def new_key() -> str:
    # 48 random bytes as URL-safe base64: 64 characters, all allowed by the parameter's rule.
    return secrets.token_urlsafe(48)


def rotated(keys: dict, mode: str, key: str | None) -> dict:
    """The secret's next value: `start` keeps the current key as previous, `finish` drops the
    previous one, `emergency` keeps no previous."""
    if mode == "finish":
        if not keys.get("previous"):
            raise ValueError("there is no previous key to drop")
        return {"current": keys["current"], "previous": ""}
    if key is None:
        raise ValueError("a new key is needed")
    if not KEY.fullmatch(key):
        raise ValueError("a key is 16 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -")
    if key in (keys.get("current"), keys.get("previous")):
        raise ValueError("the new key must differ from the keys in the secret")
    previous = keys.get("current", "") if mode == "start" else ""
    return {"current": key, "previous": previous}


def status_with(url: str, key: str, session: str) -> int:
    status, _ = smoke.post(url, {"callbackApiKey": key, "type": "session-change",
                                 "sessionId": session, "result": "SMOKE_TEST"})
    return status


def in_effect(url: str, accepted: str, refused: str | None, session: str, wait: float,
              poll: float = 1.0) -> float | None:
    """Seconds until `accepted` got 202 and `refused` (when given) 401, or None."""
    started = time.monotonic()
    while time.monotonic() - started <= wait:
        passes = status_with(url, accepted, session) == 202
        if passes and (refused is None or status_with(url, refused, session) == 401):
            return time.monotonic() - started
        time.sleep(poll)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack's name (sam deploy's stack_name)")
    parser.add_argument("--region", help="the stack's region (default: the AWS environment's)")
    parser.add_argument("--new-key", help="the new key (default: 64 random characters)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--finish", action="store_true", help="drop the previous key")
    mode.add_argument("--emergency", action="store_true",
                      help="a new key, and no previous one: the old key is refused at once")
    parser.add_argument("--callback-url", help="post here instead of the CallbackUrl output")
    args = parser.parse_args()
    import boto3

    session = boto3.session.Session(region_name=args.region)
    cloudformation = session.client("cloudformation")
    outputs = smoke.stack_outputs(cloudformation, args.stack)
    described = cloudformation.describe_stacks(StackName=args.stack)["Stacks"][0]
    refresh = next((float(p["ParameterValue"]) for p in described.get("Parameters", [])
                    if p["ParameterKey"] == "CallbackKeyRefreshSeconds"), 300.0)
    secrets_manager = session.client("secretsmanager")
    arn = outputs["CallbackKeySecretArn"]
    keys = json.loads(secrets_manager.get_secret_value(SecretId=arn)["SecretString"])
    mode_name = "finish" if args.finish else "emergency" if args.emergency else "start"
    key = None if args.finish else (args.new_key or new_key())
    try:
        value = rotated(keys, mode_name, key)
    except ValueError as e:
        print(f"not rotated: {e}", file=sys.stderr)
        return 2
    secrets_manager.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
    written = time.monotonic()
    dropped = {"start": None, "finish": keys.get("previous"),
               "emergency": keys.get("current")}[mode_name]
    print(f"stack {args.stack}: the key secret now holds "
          + {"start": "a new key, and the one before it as previous",
             "finish": "the current key alone",
             "emergency": "a new key alone; the old one is dropped"}[mode_name])
    if key is not None:
        print(f"new key (paste it into Identomat's company settings as the Callback API key):\n{key}")
    url = args.callback_url or outputs["CallbackUrl"]
    test_session = f"rotate-{secrets.token_hex(12)}"
    seen = in_effect(url, value["current"], dropped, test_session, refresh + 60)
    took = None if seen is None else time.monotonic() - written
    dynamodb = session.client("dynamodb")
    dynamodb.delete_item(TableName=outputs["SessionsTableName"],
                         Key={"sessionId": {"S": test_session}, "record": {"S": "status"}})
    what = "the new key passes" + ("" if dropped is None else " and the dropped one gets 401")
    if took is None:
        print(f"NO  not seen within {refresh + 60:.0f} s: {what} (see the ingress's log)")
        return 1
    print(f"ok  {what}, {took:.1f} s after the write (CallbackKeyRefreshSeconds is {refresh:.0f})")
    if mode_name == "start":
        print("next: set the new key in Identomat, then run this again with --finish")
    print("a later sam deploy keeps this key unless it passes another CallbackApiKey or "
          "CallbackApiKeyPrevious")
    return 0


if __name__ == "__main__":
    sys.exit(main())
