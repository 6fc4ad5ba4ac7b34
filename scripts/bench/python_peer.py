#!/usr/bin/env python3
"""The ingress's job written the way many teams would: Python and boto3 on Lambda's Runtime API.

It reads each API Gateway event, checks `callbackApiKey` in constant time, and hands the
callback on with one asynchronous `lambda.invoke`, like the Rust ingress. It exists only as the
bench's peer (scripts/lambda_bench.py), to show what a user would otherwise deploy.
"""
import hmac
import json
import os
import urllib.request

import boto3

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
KEY = os.environ["CALLBACK_API_KEY"].encode()
FAMILY = {
    "one-time-password-request": "SMS_FUNCTION_NAME",
    "share-session-link-via-sms": "SMS_FUNCTION_NAME",
    "email-one-time-password-request": "EMAIL_FUNCTION_NAME",
    "share-session-link-via-email": "EMAIL_FUNCTION_NAME",
    "session-change": "SESSION_STATUS_FUNCTION_NAME",
    "video-call-status-update": "VIDEO_CALL_FUNCTION_NAME",
}
lambda_client = boto3.client("lambda")


def handle(event: dict) -> dict:
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        return {"statusCode": 400}
    presented = str(body.pop("callbackApiKey", "")).encode()
    if not hmac.compare_digest(presented, KEY):
        return {"statusCode": 401}
    function = os.environ[FAMILY.get(body.get("type"), "SESSION_STATUS_FUNCTION_NAME")]
    envelope = {"requestId": event["requestContext"]["requestId"], "callback": body}
    lambda_client.invoke(FunctionName=function, InvocationType="Event",
                         Payload=json.dumps(envelope).encode())
    return {"statusCode": 202, "body": json.dumps({"status": "accepted"})}


while True:
    with urllib.request.urlopen(f"http://{API}/2018-06-01/runtime/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        answer = handle(json.loads(r.read()))
    url = f"http://{API}/2018-06-01/runtime/invocation/{request_id}/response"
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(answer).encode(),
                                                  method="POST")).read()
