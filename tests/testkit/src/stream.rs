//! The sessions table's stream as Lambda's event source mapping hands it to a function, and an
//! EventBridge bus whose events land in an SQS queue a test reads back: both in moto.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Map, Value, json};

/// Every record of `table`'s stream so far, oldest first, each as a record of the batch Lambda
/// gives a function (`aws_lambda_events`' DynamoDB event: `eventName`, `dynamodb.Keys`,
/// `NewImage`, `OldImage`, `SequenceNumber`, ...).
pub async fn stream_records(config: &SdkConfig, table: &str) -> Vec<Value> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let described = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe the table");
    let arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_owned();
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let stream = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe the stream");
    let mut records = Vec::new();
    for shard in stream
        .stream_description()
        .map(|d| d.shards())
        .unwrap_or_default()
    {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap_or_default())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator;
        while let Some(current) = iterator {
            let page = streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .expect("stream records");
            if page.records().is_empty() {
                break;
            }
            for record in page.records() {
                records.push(lambda_record(record, &arn));
            }
            iterator = page.next_shard_iterator;
        }
    }
    records
}

/// The batch Lambda would send for `records`.
pub fn lambda_event(records: &[Value]) -> Value {
    json!({ "Records": records })
}

fn lambda_record(record: &aws_sdk_dynamodbstreams::types::Record, arn: &str) -> Value {
    let change = record.dynamodb();
    let image = |item: Option<&HashMap<String, AttributeValue>>| {
        Value::Object(
            item.into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        )
    };
    let mut dynamodb = Map::new();
    dynamodb.insert("Keys".into(), image(change.and_then(|c| c.keys.as_ref())));
    dynamodb.insert(
        "NewImage".into(),
        image(change.and_then(|c| c.new_image.as_ref())),
    );
    dynamodb.insert(
        "OldImage".into(),
        image(change.and_then(|c| c.old_image.as_ref())),
    );
    dynamodb.insert(
        "SequenceNumber".into(),
        change
            .and_then(|c| c.sequence_number())
            .unwrap_or_default()
            .into(),
    );
    dynamodb.insert(
        "SizeBytes".into(),
        change
            .and_then(|c| c.size_bytes())
            .unwrap_or_default()
            .into(),
    );
    dynamodb.insert("StreamViewType".into(), "NEW_AND_OLD_IMAGES".into());
    json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": record.event_name().map(|n| n.as_str()).unwrap_or_default(),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or(crate::REGION),
        "eventSourceARN": arn,
        "dynamodb": dynamodb,
    })
}

/// An attribute value in DynamoDB's JSON, as the stream's Lambda event carries it.
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({
            "M": m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<Map<_, _>>()
        }),
        other => panic!("an attribute type the table never holds: {other:?}"),
    }
}

/// An EventBridge bus with a rule sending every event of `source` to a new SQS queue.
pub struct EventQueue {
    pub bus: String,
    pub queue_url: String,
}

impl EventQueue {
    pub async fn create(config: &SdkConfig, bus: &str, source: &str) -> Self {
        let events = aws_sdk_eventbridge::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        events
            .create_event_bus()
            .name(bus)
            .send()
            .await
            .expect("create the bus");
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{bus}-events"))
            .send()
            .await
            .expect("create the queue")
            .queue_url
            .expect("a queue url");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("the queue's arn");
        events
            .put_rule()
            .name("everything")
            .event_bus_name(bus)
            .event_pattern(json!({ "source": [source] }).to_string())
            .send()
            .await
            .expect("a rule");
        events
            .put_targets()
            .rule("everything")
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("the rule's target");
        Self {
            bus: bus.to_owned(),
            queue_url,
        }
    }

    /// Every event in the queue so far, oldest first (EventBridge's envelope: `detail-type`,
    /// `source`, `detail`, ...), and the queue emptied.
    pub async fn drain(&self, config: &SdkConfig) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let mut events = Vec::new();
        loop {
            let page = sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = page.messages.unwrap_or_default();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let body = message.body().unwrap_or_default();
                events.push(serde_json::from_str(body).expect("an event as JSON"));
                sqs.delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}
