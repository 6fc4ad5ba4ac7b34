#!/usr/bin/env python3
"""Writes the sample events in events/ from the reference callbacks in events/callbacks/:

  events/ingress/<name>.json   API Gateway HTTP API (2.0) events carrying each callback, plus a
                               wrong-key and an invalid one (sam local invoke IngressFunction)
  events/<family>/<name>.json  the envelope the ingress hands to that family

Run it after changing a callback sample; the tests run every file through its handler.
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FAMILY = {
    "one-time-password-request": "sms",
    "share-session-link-via-sms": "sms",
    "share-session-link-via-email": "email",
    "email-one-time-password-request": "email",
    "session-change": "session-status",
    "session-change-kyb": "session-status",
    "video-call-status-update-empty": "video-call",
    "video-call-status-update-available": "video-call",
}
RECEIVED_AT = "2026-11-27T19:49:15.123Z"


def apigw(body: str, request_id: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "POST /callbacks",
        "rawPath": "/callbacks",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "user-agent": "identomat-callbacks",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": "POST",
                "path": "/callbacks",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "identomat-callbacks",
            },
            "requestId": request_id,
            "routeKey": "POST /callbacks",
            "stage": "$default",
            "time": "27/Nov/2026:19:49:15 +0000",
            "timeEpoch": 1795808955123,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def envelope(callback: dict, request_id: str) -> dict:
    """The callback as the ingress hands it on: without the key, with the time it arrived."""
    callback = {k: v for k, v in callback.items() if k != "callbackApiKey"}
    if callback["type"] == "session-change":
        callback.setdefault("sessionType", "kyc")
    if callback["type"] == "share-session-link-via-email" and "cc" in callback:
        callback["cc"] = [a.strip() for a in callback["cc"].replace(";", ",").split(",") if a.strip()]
    return {"requestId": request_id, "receivedAt": RECEIVED_AT, "callback": callback}


def write(path: pathlib.Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    for i, (name, family) in enumerate(FAMILY.items()):
        callback = json.loads((EVENTS / "callbacks" / f"{name}.json").read_text())
        request_id = f"sample-{i + 1:02d}"
        write(EVENTS / "ingress" / f"{name}.json", apigw(json.dumps(callback), request_id))
        write(EVENTS / family / f"{name}.json", envelope(callback, request_id))
    wrong = json.loads((EVENTS / "callbacks" / "session-change.json").read_text())
    wrong["callbackApiKey"] = "not-the-key"
    write(EVENTS / "ingress" / "wrong-key.json", apigw(json.dumps(wrong), "sample-wrong-key"))
    invalid = json.loads((EVENTS / "callbacks" / "one-time-password-request.json").read_text())
    invalid["phoneNumber"] = "995 512 345 678"
    write(EVENTS / "ingress" / "invalid.json", apigw(json.dumps(invalid), "sample-invalid"))


if __name__ == "__main__":
    main()
