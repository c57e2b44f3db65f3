//! Input path and transformer cases, many after the EventBridge user
//! guide's examples.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{select_path, InputTransformer, TransformContext, MAX_PATHS};

fn event() -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111", "arn:second"],
        "detail": {
            "instance-id": "i-0123456789",
            "state": "RUNNING",
            "count": 3,
            "flag": true,
            "nothing": null,
            "tags": {"env": "prod"},
            "list": ["a", "b"],
            "path/with/slash": "s"
        }
    })
}

fn context() -> TransformContext {
    TransformContext {
        rule_arn: "arn:aws:events:us-east-1:123456789012:rule/r1".into(),
        rule_name: "r1".into(),
        ingestion_time: "2015-11-11T21:29:55Z".into(),
    }
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn standard_map() -> BTreeMap<String, String> {
    map(&[
        ("timestamp", "$.time"),
        ("instance", "$.detail.instance-id"),
        ("state", "$.detail.state"),
        ("resource", "$.resources[0]"),
        ("count", "$.detail.count"),
        ("tags", "$.detail.tags"),
        ("list", "$.detail.list"),
        ("missing", "$.detail.nope"),
        ("nothing", "$.detail.nothing"),
    ])
}

fn render(template: &str) -> String {
    InputTransformer::new(&standard_map(), template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .render(&event(), &context())
}

#[test]
fn input_paths() {
    let e = event();
    let cases: &[(&str, Option<Value>)] = &[
        ("$", Some(e.clone())),
        ("$.detail", Some(e["detail"].clone())),
        ("$.detail.state", Some(json!("RUNNING"))),
        ("$.detail.tags.env", Some(json!("prod"))),
        ("$.resources[0]", Some(json!("arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"))),
        ("$.resources[1]", Some(json!("arn:second"))),
        ("$.resources[2]", None),
        ("$.resources[*]", Some(e["resources"].clone())),
        ("$.detail.list[*]", Some(json!(["a", "b"]))),
        ("$.detail.tags.*", Some(json!(["prod"]))),
        ("$.detail.path/with/slash", Some(json!("s"))),
        ("$.detail.nothing", Some(Value::Null)),
        ("$.detail.nope", None),
        ("$.detail.state.deeper", None),
        ("$.detail.nope[*]", None),
        ("$.detail-type", Some(json!("EC2 Instance State-change Notification"))),
    ];
    for (path, expected) in cases {
        assert_eq!(&select_path(&e, path).unwrap(), expected, "{path}");
    }
}

#[test]
fn invalid_input_paths() {
    for (path, fact) in [
        ("detail", "must start with '$'"),
        ("", "must start with '$'"),
        ("$.", "must be followed by a field name"),
        ("$..detail", "must be followed by a field name"),
        ("$.detail[", "is not closed"),
        ("$.detail[x]", "is not an array index"),
        ("$.detail[-1]", "is not an array index"),
        ("$detail", "unexpected 'd'"),
        ("$.a b", "contains ' '"),
        ("$.['a']", "must be followed by a field name"),
    ] {
        let error = select_path(&event(), path).unwrap_err();
        assert!(error.message.contains(fact), "{path}: {error}");
        assert!(error.message.contains("is not a valid JSON path"), "{error}");
    }
    let long = format!("$.{}", "a".repeat(300));
    assert!(select_path(&event(), &long).unwrap_err().message.contains("longer than 256"));
}

#[test]
fn text_templates() {
    let cases = [
        // The guide's string example: quotes kept, values as text.
        (r#""instance <instance> is in <state>""#, r#""instance i-0123456789 is in RUNNING""#),
        ("instance <instance> is in <state>", "instance i-0123456789 is in RUNNING"),
        (r#""<instance> is in state \"<state>\"""#, r#""i-0123456789 is in state \"RUNNING\"""#),
        ("count=<count> at <timestamp>", "count=3 at 2015-11-11T21:29:54Z"),
        ("tags <tags> list <list>", "tags {env:prod} list [a,b]"),
        ("missing [<missing>]", "missing []"),
        ("nothing <nothing>", "nothing null"),
        ("a < b and c > d", "a < b and c > d"),
        ("<resource>", "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template), expected, "{template}");
    }
}

#[test]
fn json_templates() {
    let cases = [
        (
            r#"{"instance" : <instance>, "state": [9, <state>, true], "Transformed" : "Yes"}"#,
            json!({"instance": "i-0123456789", "state": [9, "RUNNING", true], "Transformed": "Yes"}),
        ),
        (
            r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<state>\""}"#,
            json!({"myInstance": "i-0123456789", "myStatus": "i-0123456789 is in state \"RUNNING\""}),
        ),
        (r#"{"count": <count>, "text": "n=<count>"}"#, json!({"count": 3, "text": "n=3"})),
        (r#"{"tags": <tags>, "list": <list>}"#, json!({"tags": {"env": "prod"}, "list": ["a", "b"]})),
        (r#"{"detail": "Detail is <tags>"}"#, json!({"detail": "Detail is {env:prod}"})),
        (r#"{"missing": <missing>, "inside": "[<missing>]"}"#, json!({"missing": "", "inside": "[]"})),
        (r#"{"nothing": <nothing>}"#, json!({"nothing": null})),
    ];
    for (template, expected) in cases {
        let rendered = render(template);
        let parsed: Value = serde_json::from_str(&rendered).unwrap_or_else(|e| panic!("{rendered}: {e}"));
        assert_eq!(parsed, expected, "{template}");
    }
}

#[test]
fn predefined_variables() {
    let t = InputTransformer::new(
        &BTreeMap::new(),
        r#""Rule <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>""#,
    )
    .unwrap();
    assert_eq!(
        t.render(&event(), &context()),
        r#""Rule arn:aws:events:us-east-1:123456789012:rule/r1 r1 2015-11-11T21:29:55Z""#
    );
    let t = InputTransformer::new(
        &BTreeMap::new(),
        r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>, "rule": <aws.events.rule-name>}"#,
    )
    .unwrap();
    let rendered: Value = serde_json::from_str(&t.render(&event(), &context())).unwrap();
    assert_eq!(rendered["originalEventJson"], event());
    assert_eq!(rendered["rule"], json!("r1"));
    let original = rendered["originalEvent"].as_object().unwrap();
    assert!(!original.contains_key("detail"));
    assert_eq!(original["source"], json!("aws.ec2"));
    assert_eq!(original["detailType"], json!("EC2 Instance State-change Notification"));
}

#[test]
fn invalid_templates() {
    for (template, fact) in [
        (r#""Event of <instance> with <notdefinedkey>""#, "InputTemplate contains invalid placeholder notdefinedkey."),
        (
            r#""whole <aws.events.event.json>""#,
            "contains placeholder aws.events.event.json valid only for JSON template.",
        ),
        (r#"{"e": "<aws.events.event>"}"#, "contains placeholder aws.events.event valid only for JSON template."),
        ("[<aws.events.event.json>]", "valid only for JSON template"),
        (r#"{"a": <instance>"#, "is not valid JSON"),
        (r#"{<instance>: 1}"#, "is not valid JSON"),
        ("", "must be 1 to 8192 characters long"),
    ] {
        let error = InputTransformer::new(&standard_map(), template).unwrap_err();
        assert!(error.message.contains(fact), "{template}: {error}");
    }
    let long = "x".repeat(8193);
    assert!(InputTransformer::new(&BTreeMap::new(), &long).is_err());
    let error = InputTransformer::for_target("t1", &BTreeMap::new(), r#""<nope>""#).unwrap_err();
    assert_eq!(error.message, "InputTemplate for target t1 contains invalid placeholder nope.");
}

#[test]
fn invalid_maps_collect_every_problem() {
    let error = InputTransformer::new(
        &map(&[("bad key", "$.a"), ("ok", "detail"), ("aws.events.rule-arn", "$.x"), ("", "$")]),
        "\"<ok>\"",
    )
    .unwrap_err();
    for fact in [
        "key 'bad key' is not valid",
        "value detail for key ok is not a valid JSON path",
        "key aws.events.rule-arn is reserved",
        "key '' is not valid",
    ] {
        assert!(error.message.contains(fact), "{fact}: {error}");
    }
    let too_many: BTreeMap<String, String> = (0..=MAX_PATHS).map(|i| (format!("k{i}"), "$.a".to_string())).collect();
    let error = InputTransformer::new(&too_many, "\"x\"").unwrap_err();
    assert!(error.message.contains("has 101 entries; at most 100"), "{error}");
    let exactly: BTreeMap<String, String> = (0..MAX_PATHS).map(|i| (format!("k_{i}-x"), "$.a".to_string())).collect();
    assert!(InputTransformer::new(&exactly, "\"x\"").is_ok());
    let long_key = map(&[(&"k".repeat(257), "$.a")]);
    assert!(InputTransformer::new(&long_key, "\"x\"").unwrap_err().message.contains("not valid"));
}
