"""Delivery receipts where moto produces none: every SMS and e-mail moto recorded becomes the
receipt AWS documents for it, in the envelope AWS delivers it in, for the receipts function.

- An SMS: SNS's delivery status log line (SNS developer guide, "Viewing Amazon CloudWatch
  metrics and logs for SMS deliveries"), in a CloudWatch Logs subscription's event: the batch
  JSON, gzip compressed, base64 encoded, under `awslogs.data` (CloudWatch Logs user guide,
  "Using CloudWatch Logs subscription filters", the Lambda example). SUCCESS in
  sns/<region>/<account>/DirectPublishToPhoneNumber, unless the number is in FAILING_NUMBERS:
  then FAILURE in .../Failure, as a carrier that cannot reach the phone reports it.
- An e-mail: SES's event record (SES developer guide, "Examples of event data that Amazon SES
  publishes to Amazon SNS"; the same record is the `detail` of the EventBridge event) in the
  EventBridge envelope (SES developer guide, "Monitoring SES events using Amazon EventBridge"),
  tagged with the configuration set. `Email Delivered`, or `Email Bounced` (Permanent, General)
  for every recipient at BOUNCE_DOMAIN.

Each message gets its receipts once, however often `new_receipts` is called.
"""
import base64
import datetime
import gzip
import json
import urllib.request
import uuid

# Any address at this domain bounces (RFC 2606 reserves .example: no real mailbox is one).
BOUNCE_DOMAIN = "bounce.example"
# SMS to these numbers fail at the carrier: +995 599 999 900 to +995 599 999 999 (outside the
# range scripts/bench/ sends to).
FAILING_PREFIX = "+9955999999"
FAILING_NUMBERS = f"{FAILING_PREFIX}00 to {FAILING_PREFIX}99"
# The price the stand-in reports for an SMS (SNS's documented example's).
SMS_PRICE_USD = 0.00645


def fails(phone_number: str) -> bool:
    return phone_number.startswith(FAILING_PREFIX) and len(phone_number) == len(FAILING_PREFIX) + 2


def bounces(address: str) -> bool:
    return address.rsplit("@", 1)[-1].rstrip(">").lower() == BOUNCE_DOMAIN


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(t: datetime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def sms_log_line(message_id: str, phone_number: str, when: datetime.datetime) -> tuple[bool, dict]:
    """SNS's log line for one SMS, and whether it went to the failure log group."""
    failed = fails(phone_number)
    delivery = {
        "mnc": 0 if failed else 270,
        "destination": phone_number,
        "priceInUSD": SMS_PRICE_USD,
        "smsType": "Transactional",
        "mcc": 0 if failed else 282,
        "providerResponse": ("Unknown error attempting to reach phone" if failed
                             else "Message has been accepted by phone carrier"),
        "dwellTimeMs": 599,
        "dwellTimeMsUntilDeviceAck": 1344,
    }
    if not failed:
        delivery["phoneCarrier"] = "My Phone Carrier"
    stamp = when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    return failed, {"notification": {"messageId": message_id, "timestamp": stamp},
                    "delivery": delivery, "status": "FAILURE" if failed else "SUCCESS"}


def logs_event(account: str, group: str, lines: list[dict], when: datetime.datetime) -> dict:
    """The event CloudWatch Logs invokes a subscribed function with."""
    millis = int(when.timestamp() * 1000)
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": group,
        "logStream": f"{uuid.uuid4()}",
        "subscriptionFilters": ["SmsDeliveryReceipts"],
        "logEvents": [{"id": f"{millis}{i:06d}", "timestamp": millis, "message": json.dumps(line)}
                      for i, line in enumerate(lines)],
    }
    data = base64.b64encode(gzip.compress(json.dumps(batch).encode())).decode()
    return {"awslogs": {"data": data}}


def ses_event(account: str, region: str, configuration_set: str, mail: dict, event_type: str,
              recipients: list[str], when: datetime.datetime) -> dict:
    """The EventBridge event SES puts on the default bus for one event of one e-mail."""
    record = {
        "eventType": event_type,
        "mail": {
            "timestamp": _iso(when),
            "source": mail["source"],
            "sourceArn": f"arn:aws:ses:{region}:{account}:identity/{mail['source']}",
            "sendingAccountId": account,
            "messageId": mail["id"],
            "destination": recipients,
            "headersTruncated": False,
            "tags": {"ses:configuration-set": [configuration_set],
                     "ses:source-ip": ["192.0.2.0"], "ses:from-domain": [mail["source"].split("@")[-1]],
                     "ses:caller-identity": ["local"]},
        },
    }
    if event_type == "Bounce":
        record["bounce"] = {
            "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": r, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": f"smtp; 550 5.1.1 user unknown <{r}>"}
                                  for r in recipients],
            "timestamp": _iso(when), "feedbackId": f"{uuid.uuid4()}",
            "reportingMTA": "dsn; e226-55.smtp-out.amazonses.com",
        }
        detail_type = "Email Bounced"
    else:
        record["delivery"] = {
            "timestamp": _iso(when), "processingTimeMillis": 546, "recipients": recipients,
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }
        detail_type = "Email Delivered"
    return {
        "version": "0", "id": f"{uuid.uuid4()}", "detail-type": detail_type, "source": "aws.ses",
        "account": account, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [f"arn:aws:ses:{region}:{account}:configuration-set/{configuration_set}"],
        "detail": record,
    }


class StandIn:
    """Receipts for what moto recorded, once each."""

    def __init__(self, account: str, region: str, configuration_set: str):
        self.account, self.region, self.configuration_set = account, region, configuration_set
        self.seen: set[str] = set()

    def new_receipts(self, data: dict) -> list[dict]:
        """The invocations for every message in moto's data.json not seen before: one log
        batch per log group, one event per e-mail event."""
        when = _now()
        groups: dict[str, list[dict]] = {}
        for sms in data.get("sns", {}).get("SMS", []):
            if sms["message_id"] in self.seen:
                continue
            self.seen.add(sms["message_id"])
            failed, line = sms_log_line(sms["message_id"], sms["phone_number"], when)
            group = f"sns/{self.region}/{self.account}/DirectPublishToPhoneNumber"
            groups.setdefault(group + ("/Failure" if failed else ""), []).append(line)
        payloads = [logs_event(self.account, group, lines, when) for group, lines in groups.items()]
        for mail in data.get("ses", {}).get("Message", []):
            if mail["id"] in self.seen:
                continue
            self.seen.add(mail["id"])
            recipients = [a for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
                          for a in mail["destinations"].get(kind, [])]
            bounced = [r for r in recipients if bounces(r)]
            delivered = [r for r in recipients if not bounces(r)]
            if delivered:
                payloads.append(ses_event(self.account, self.region, self.configuration_set, mail,
                                          "Delivery", delivered, when))
            if bounced:
                payloads.append(ses_event(self.account, self.region, self.configuration_set, mail,
                                          "Bounce", bounced, when))
        return payloads

    def deliver(self, moto_url: str, invoke) -> tuple[int, list[str]]:
        """Hands the receipts of what moto recorded since the last call to `invoke` (one JSON
        payload each, as bytes; it returns an error's text or None): how many there were, and
        the errors."""
        with urllib.request.urlopen(f"{moto_url}/moto-api/data.json") as response:
            payloads = self.new_receipts(json.loads(response.read()))
        errors = [e for e in (invoke(json.dumps(p).encode()) for p in payloads) if e]
        return len(payloads), errors
