//! Matching cases, table-driven: each case is a pattern, an event (only the
//! fields that matter) and whether it must match. Many mirror the
//! EventBridge user guide's examples and cases recorded against the real
//! service by an independent emulator's test suite.

use serde_json::{json, Value};

use super::{EventPattern, FlatEvent};

fn check(cases: &[(&str, Value, bool)]) {
    for (pattern, event, expected) in cases {
        let parsed = EventPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern} refused: {e}"));
        assert_eq!(parsed.matches(event), *expected, "pattern {pattern} on event {event}");
        let flat = FlatEvent::new(event);
        assert_eq!(parsed.matches_flat(&flat), *expected, "flattened once: pattern {pattern} on event {event}");
    }
}

fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "012345679012",
        "time": "2017-10-02T16:24:49Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
        "detail": {
            "c-count": 5,
            "d-count": 3,
            "x-limit": 301.8,
            "source-ip": "10.0.0.33",
            "instance-id": "i-000000aaaaaa00000",
            "state": "running"
        }
    })
}

#[test]
fn exact_values() {
    let e = ec2_event();
    check(&[
        (r#"{"source": ["aws.ec2"]}"#, e.clone(), true),
        (r#"{"source": ["aws.s3", "aws.ec2"]}"#, e.clone(), true),
        (r#"{"source": ["aws.s3"]}"#, e.clone(), false),
        (r#"{"source": ["AWS.EC2"]}"#, e.clone(), false),
        (r#"{"source": ["aws.ec2"], "region": ["eu-west-1"]}"#, e.clone(), false),
        (r#"{"detail": {"state": ["initializing", "running"]}}"#, e.clone(), true),
        (r#"{"detail": {"missing": ["x"]}}"#, e.clone(), false),
        (r#"{"detail": {"c-count": [5]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": [5.0]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": [5e0]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": ["5"]}}"#, e.clone(), false),
        (r#"{"detail": {"x-limit": [301.8]}}"#, e.clone(), true),
        (r#"{"detail": {"x-limit": [3.018e2]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": [6]}}"#, e.clone(), false),
        (r#"{"a": [5]}"#, json!({"a": "5"}), false),
        (r#"{"a": [123456789012]}"#, json!({"a": 123456789012u64}), true),
        (r#"{"a": [123456789012]}"#, json!({"a": 123456789013u64}), false),
        (r#"{"a": [true]}"#, json!({"a": true}), true),
        (r#"{"a": [true]}"#, json!({"a": "true"}), false),
        (r#"{"a": [false]}"#, json!({"a": true}), false),
        (r#"{"a": [""]}"#, json!({"a": ""}), true),
        (r#"{"a": [""]}"#, json!({"a": " "}), false),
        // Keys are case sensitive.
        (r#"{"Source": ["aws.ec2"]}"#, e.clone(), false),
        // Unicode and escapes in pattern strings.
        (r#"{"a": ["caf\u00e9"]}"#, json!({"a": "café"}), true),
        (r#"{"a": ["line\nbreak"]}"#, json!({"a": "line\nbreak"}), true),
    ]);
}

#[test]
fn null_values() {
    check(&[
        (r#"{"a": [null]}"#, json!({"a": null}), true),
        (r#"{"a": [null]}"#, json!({"a": "null"}), false),
        (r#"{"a": [null]}"#, json!({}), false),
        (r#"{"resources": [null]}"#, json!({"resources": []}), false),
        (r#"{"a": ["x"]}"#, json!({"a": null}), false),
        (r#"{"a": [null, "x"]}"#, json!({"a": "x"}), true),
    ]);
}

#[test]
fn nested_objects_and_dotted_keys() {
    check(&[
        (r#"{"detail": {"a": {"b": ["x"]}}}"#, json!({"detail": {"a": {"b": "x"}}}), true),
        (r#"{"detail": {"a": {"b": ["x"]}}}"#, json!({"detail": {"a": {"b": "y"}}}), false),
        (r#"{"detail": {"a.b": ["x"]}}"#, json!({"detail": {"a": {"b": "x"}}}), true),
        (r#"{"detail": {"a": {"b": ["x"]}}}"#, json!({"detail": {"a.b": "x"}}), true),
        // A pattern object never matches a scalar, nor a string holding JSON.
        (r#"{"detail": {"a": ["x"]}}"#, json!({"detail": "{\"a\": \"x\"}"}), false),
        (r#"{"detail": {"a": {"b": ["x"]}}}"#, json!({"detail": {"a": "x"}}), false),
        // A leaf value never matches an object.
        (r#"{"detail": ["x"]}"#, json!({"detail": {"x": 1}}), false),
    ]);
}

#[test]
fn arrays_in_events() {
    check(&[
        (r#"{"resources": ["b"]}"#, json!({"resources": ["a", "b"]}), true),
        (r#"{"resources": ["c", "a"]}"#, json!({"resources": ["a", "b"]}), true),
        (r#"{"resources": ["c"]}"#, json!({"resources": ["a", "b"]}), false),
        (r#"{"a": [2]}"#, json!({"a": [[1], [2, 3]]}), true),
        (
            r#"{"employees": {"firstName": ["Anna"]}}"#,
            json!({"employees": [{"firstName": "John"}, {"firstName": "Anna"}]}),
            true,
        ),
        // Array-consistent: both fields must come from the same element.
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
            json!({"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]}),
            true,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Doe"]}}"#,
            json!({"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]}),
            false,
        ),
        (
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
            json!({"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"lastName": "Jones"}]]}),
            false,
        ),
        // A field outside the array combines with any element.
        (r#"{"source": ["s"], "items": {"id": [2]}}"#, json!({"source": "s", "items": [{"id": 1}, {"id": 2}]}), true),
        // Values of an element's own array stay within that element.
        (r#"{"x": {"a": [5], "b": [4]}}"#, json!({"x": [{"a": [1, 2], "b": 3}, {"a": [5], "b": 4}]}), true),
        (r#"{"x": {"a": [5], "b": [3]}}"#, json!({"x": [{"a": [1, 2], "b": 3}, {"a": [5], "b": 4}]}), false),
    ]);
}

#[test]
fn prefix_and_suffix() {
    let e = ec2_event();
    check(&[
        (r#"{"time": [{"prefix": "2017-10-02"}]}"#, e.clone(), true),
        (r#"{"time": [{"prefix": "2017-10-03"}]}"#, e.clone(), false),
        (r#"{"time": [{"prefix": ""}]}"#, e.clone(), true),
        (r#"{"source": [{"suffix": "ec2"}]}"#, e.clone(), true),
        (r#"{"source": [{"suffix": "EC2"}]}"#, e.clone(), false),
        (r#"{"detail": {"c-count": [{"prefix": "5"}]}}"#, e.clone(), false),
        (r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": null}), false),
        (r#"{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#, json!({"service": "eventbridge"}), true),
        (r#"{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#, json!({"service": "EVENTBUS"}), true),
        (r#"{"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#, json!({"service": "Events"}), false),
        (r#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#, json!({"f": "IMAGE.PNG"}), true),
        (r#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#, json!({"f": "image.jpg"}), false),
    ]);
}

#[test]
fn equals_ignore_case() {
    check(&[
        (r#"{"a": [{"equals-ignore-case": "EC2 Instance"}]}"#, json!({"a": "ec2 instance"}), true),
        (r#"{"a": [{"equals-ignore-case": "EC2 Instance"}]}"#, json!({"a": "ec2 instances"}), false),
        (r#"{"a": [{"equals-ignore-case": "ÉTÉ"}]}"#, json!({"a": "été"}), true),
        (r#"{"a": [{"equals-ignore-case": ""}]}"#, json!({"a": ""}), true),
        (r#"{"a": [{"equals-ignore-case": "5"}]}"#, json!({"a": 5}), false),
        (r#"{"a": [{"exactly": "x"}]}"#, json!({"a": "x"}), true),
    ]);
}

#[test]
fn wildcard() {
    check(&[
        (r#"{"a": [{"wildcard": "Simple*Service"}]}"#, json!({"a": "SimpleQueueService"}), true),
        (r#"{"a": [{"wildcard": "Simple*Service"}]}"#, json!({"a": "SimpleService"}), true),
        (r#"{"a": [{"wildcard": "Simple*Service"}]}"#, json!({"a": "SimpleQueueServices"}), false),
        (r#"{"a": [{"wildcard": "*.png"}]}"#, json!({"a": "dir/file.png"}), true),
        (r#"{"a": [{"wildcard": "dir/*/file*"}]}"#, json!({"a": "dir/sub/file.txt"}), true),
        (r#"{"a": [{"wildcard": "dir/*/file*"}]}"#, json!({"a": "dir/file.txt"}), false),
        (r#"{"a": [{"wildcard": "*a*b*"}]}"#, json!({"a": "xxaxxbxx"}), true),
        (r#"{"a": [{"wildcard": "*a*b*"}]}"#, json!({"a": "xxbxxaxx"}), false),
        (r#"{"a": [{"wildcard": "*"}]}"#, json!({"a": ""}), true),
        (r#"{"a": [{"wildcard": "abc"}]}"#, json!({"a": "abc"}), true),
        (r#"{"a": [{"wildcard": "abc"}]}"#, json!({"a": "abcd"}), false),
        (r#"{"a": [{"wildcard": "a\\*b"}]}"#, json!({"a": "a*b"}), true),
        (r#"{"a": [{"wildcard": "a\\*b"}]}"#, json!({"a": "axxb"}), false),
        (r#"{"a": [{"wildcard": "a\\\\b"}]}"#, json!({"a": "a\\b"}), true),
        (r#"{"a": [{"wildcard": "*ab"}]}"#, json!({"a": "aab"}), true),
        (r#"{"a": [{"wildcard": "*"}]}"#, json!({"a": 5}), false),
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"}),
            true,
        ),
    ]);
}

#[test]
fn anything_but() {
    check(&[
        (r#"{"state": [{"anything-but": "initializing"}]}"#, json!({"state": "running"}), true),
        (r#"{"state": [{"anything-but": "initializing"}]}"#, json!({"state": "initializing"}), false),
        // Other types, null included, are "anything but" the value; absence is not.
        (r#"{"state": [{"anything-but": "initializing"}]}"#, json!({"state": null}), true),
        (r#"{"state": [{"anything-but": "initializing"}]}"#, json!({"state": 12}), true),
        (r#"{"state": [{"anything-but": "initializing"}]}"#, json!({}), false),
        (r#"{"state": [{"anything-but": ["stopped", "overloaded"]}]}"#, json!({"state": "running"}), true),
        (r#"{"state": [{"anything-but": ["stopped", "overloaded"]}]}"#, json!({"state": "stopped"}), false),
        (r#"{"x": [{"anything-but": 123}]}"#, json!({"x": 124}), true),
        (r#"{"x": [{"anything-but": 123}]}"#, json!({"x": 123.0}), false),
        (r#"{"x": [{"anything-but": [100, 200, 300]}]}"#, json!({"x": 200}), false),
        (r#"{"x": [{"anything-but": [100, 200, 300]}]}"#, json!({"x": "200"}), true),
        (r#"{"x": [{"anything-but": 0}]}"#, json!({"x": 0}), false),
        // Any element of an event array that is not excluded matches.
        (r#"{"r": [{"anything-but": "a"}]}"#, json!({"r": ["a", "b"]}), true),
        (r#"{"r": [{"anything-but": "a"}]}"#, json!({"r": ["a"]}), false),
        (r#"{"state": [{"anything-but": {"prefix": "init"}}]}"#, json!({"state": "running"}), true),
        (r#"{"state": [{"anything-but": {"prefix": "init"}}]}"#, json!({"state": "initializing"}), false),
        (r#"{"state": [{"anything-but": {"prefix": "init"}}]}"#, json!({"state": 12}), true),
        (r#"{"state": [{"anything-but": {"prefix": "init"}}]}"#, json!({"state": null}), true),
        (r#"{"state": [{"anything-but": {"prefix": ["init", "stop"]}}]}"#, json!({"state": "stopping"}), false),
        (r#"{"state": [{"anything-but": {"prefix": ["init", "stop"]}}]}"#, json!({"state": "running"}), true),
        (r#"{"f": [{"anything-but": {"suffix": ".png"}}]}"#, json!({"f": "a.jpg"}), true),
        (r#"{"f": [{"anything-but": {"suffix": ".png"}}]}"#, json!({"f": "a.png"}), false),
        (r#"{"f": [{"anything-but": {"suffix": [".png", ".txt"]}}]}"#, json!({"f": "a.txt"}), false),
        (r#"{"s": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#, json!({"s": "INITIALIZING"}), false),
        (r#"{"s": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#, json!({"s": "running"}), true),
        (r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}"#, json!({"s": "b"}), false),
        (r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}"#, json!({"s": null}), true),
        (r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, json!({"p": "/usr/lib/x"}), false),
        (r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, json!({"p": "/usr/bin/x"}), true),
        (r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, json!({"p": 123}), true),
        (r#"{"p": [{"anything-but": {"wildcard": ["*/lib/*", "*.so"]}}]}"#, json!({"p": "a.so"}), false),
        (r#"{"p": [{"anything-but": {"wildcard": ""}}]}"#, json!({"p": "dir/init/file"}), true),
    ]);
}

#[test]
fn numeric() {
    let e = ec2_event();
    check(&[
        (r#"{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}"#, e.clone(), false),
        (r#"{"detail": {"c-count": [{"numeric": [">=", 5, "<", 6]}]}}"#, e.clone(), true),
        (r#"{"detail": {"c-count": [{"numeric": [">", 5]}]}}"#, e.clone(), false),
        (r#"{"detail": {"d-count": [{"numeric": ["<", 10]}]}}"#, e.clone(), true),
        (r#"{"detail": {"d-count": [{"numeric": ["<=", 3]}]}}"#, e.clone(), true),
        (r#"{"detail": {"d-count": [{"numeric": ["<", 3]}]}}"#, e.clone(), false),
        (r#"{"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}"#, e.clone(), true),
        (r#"{"detail": {"x-limit": [{"numeric": ["=", 301.80001]}]}}"#, e.clone(), false),
        (r#"{"a": [{"numeric": [">", 0]}]}"#, json!({"a": "5"}), false),
        (r#"{"a": [{"numeric": [">", 0]}]}"#, json!({"a": null}), false),
        (r#"{"a": [{"numeric": [">", -1.5, "<", -0.5]}]}"#, json!({"a": -1}), true),
        (r#"{"a": [{"numeric": ["<", 5e9]}]}"#, json!({"a": 6e9}), false),
        (r#"{"a": [{"numeric": [">=", -5e9]}]}"#, json!({"a": -5e9}), true),
        (r#"{"a": [{"numeric": ["=", 1]}]}"#, json!({"a": [3, 1]}), true),
        // Numbers compare to six decimal places.
        (r#"{"a": [{"numeric": ["=", 0.1]}]}"#, json!({"a": 0.1000000001}), true),
        // Several tests in one list: any may match.
        (r#"{"a": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]}"#, json!({"a": 11}), true),
        (r#"{"a": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]}"#, json!({"a": 5}), false),
    ]);
}

#[test]
fn cidr_and_ip_values() {
    check(&[
        (r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "10.0.0.255"}), true),
        (r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "10.0.1.0"}), false),
        (r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#, json!({"ip": "10.200.3.4"}), true),
        (r#"{"ip": [{"cidr": "0.0.0.0/0"}]}"#, json!({"ip": "192.168.1.1"}), true),
        (r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": 123}), false),
        (r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "not-an-ip"}), false),
        (r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "::ffff:10.0.0.1"}), false),
        (r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#, json!({"ip": "2001:db8:1234::1"}), true),
        (r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#, json!({"ip": "2001:db9::1"}), false),
        (r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#, json!({"ip": "10.0.0.1"}), false),
        (
            r#"{"ip": [{"cidr": "2001:0DB8:1234:1a00::/64"}]}"#,
            json!({"ip": "2001:db8:1234:1a00:9691:9503:25ad:1761"}),
            true,
        ),
        // An exact IP value matches the same address however written.
        (r#"{"ip": ["10.0.0.1"]}"#, json!({"ip": "10.0.0.1"}), true),
        (r#"{"ip": ["::1"]}"#, json!({"ip": "0:0:0:0:0:0:0:1"}), true),
        (r#"{"ip": ["10.0.0.1"]}"#, json!({"ip": "10.0.0.2"}), false),
    ]);
}

#[test]
fn exists() {
    check(&[
        (r#"{"detail": {"c-count": [{"exists": true}]}}"#, ec2_event(), true),
        (r#"{"detail": {"nope": [{"exists": true}]}}"#, ec2_event(), false),
        (r#"{"detail": {"nope": [{"exists": false}]}}"#, ec2_event(), true),
        (r#"{"detail": {"c-count": [{"exists": false}]}}"#, ec2_event(), false),
        (r#"{"a": [{"exists": true}]}"#, json!({"a": null}), true),
        (r#"{"a": [{"exists": false}]}"#, json!({"a": null}), false),
        (r#"{"a": [{"exists": true}]}"#, json!({"a": ""}), true),
        // Only leaves count: an object, or an empty array, is absent.
        (r#"{"a": [{"exists": true}]}"#, json!({"a": {"b": 1}}), false),
        (r#"{"a": [{"exists": false}]}"#, json!({"a": {"b": 1}}), true),
        (r#"{"resources": [{"exists": true}]}"#, json!({"resources": []}), false),
        (r#"{"resources": [{"exists": false}]}"#, json!({"resources": []}), true),
        (r#"{"resources": [{"exists": true}]}"#, json!({"resources": ["x"]}), true),
        // With other values in the list: absent, or one of the values.
        (r#"{"a": {"S": [{"anything-but": ["roses"]}, {"exists": false}]}}"#, json!({"b": 1}), true),
        (r#"{"a": {"S": [{"anything-but": ["roses"]}, {"exists": false}]}}"#, json!({"a": {"S": "roses"}}), false),
        (r#"{"a": {"S": [{"anything-but": ["roses"]}, {"exists": false}]}}"#, json!({"a": {"S": "tulips"}}), true),
        (r#"{"detail": {"a": [{"exists": false}], "b": ["x"]}}"#, json!({"detail": {"b": "x"}}), true),
    ]);
}

#[test]
fn or_at_top_and_nested() {
    let p1 = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]}"#;
    let p2 = r#"{"$or": [{"a": [1]}, {"b": [2]}], "detail": {"$or": [{"source": ["s"]}, {"detail-type": ["t"]}]}}"#;
    let p3 = r#"{"source": ["x"], "$or": [{"m": ["1"]}, {"t": ["2"], "n": ["3"], "$or": [{"i": [4]}, {"s": [5]}]}, {"scope": ["S"]}]}"#;
    check(&[
        (p1, json!({"source": "aws.cloudwatch", "metricName": "ReadLatency"}), true),
        (p1, json!({"source": "aws.cloudwatch", "namespace": "AWS/ES"}), true),
        (p1, json!({"source": "aws.cloudwatch", "namespace": "AWS/S3"}), false),
        (p1, json!({"source": "aws.s3", "metricName": "ReadLatency"}), false),
        (p2, json!({"a": 1, "detail": {"detail-type": "t"}}), true),
        (p2, json!({"b": 2, "detail": {"source": "s"}}), true),
        (p2, json!({"b": 2, "detail": {"source": "other"}}), false),
        (p2, json!({"c": 2, "detail": {"source": "s"}}), false),
        (p3, json!({"source": "x", "t": "2", "n": "3", "s": 5}), true),
        (p3, json!({"source": "x", "t": "2", "n": "3"}), false),
        (p3, json!({"source": "x", "scope": "S"}), true),
        (p3, json!({"source": "y", "scope": "S"}), false),
        (r#"{"$or": [{"a": [{"exists": true}]}, {"b": [{"numeric": [">", 1]}]}]}"#, json!({"b": 2}), true),
        (r#"{"$or": [{"a": [{"exists": true}]}, {"b": [{"numeric": [">", 1]}]}]}"#, json!({"b": 1}), false),
        (r#"{"$or": [{"a": [{"anything-but": "x"}]}, {"a": [{"numeric": ["<", 0]}]}]}"#, json!({"a": "x"}), false),
    ]);
}

#[test]
fn ec2_complex_example_from_the_guide() {
    let pattern = r#"{
      "time": [ { "prefix": "2017-10-02" } ],
      "detail": {
        "state": [ { "anything-but": "initializing" } ],
        "c-count": [ { "numeric": [ ">", 0, "<=", 5 ] } ],
        "d-count": [ { "numeric": [ "<", 10 ] } ],
        "x-limit": [ { "anything-but": [ 100, 200, 300 ] } ],
        "source-ip": [ { "cidr": "10.0.0.0/8" } ]
      }
    }"#;
    let mut other = ec2_event();
    other["detail"]["x-limit"] = json!(200);
    check(&[(pattern, ec2_event(), true), (pattern, other, false)]);
}

#[test]
fn later_duplicate_field_replaces_earlier() {
    check(&[
        (r#"{"a": ["x"], "a": ["y"]}"#, json!({"a": "y"}), true),
        (r#"{"a": ["x"], "a": ["y"]}"#, json!({"a": "x"}), false),
    ]);
}

#[test]
fn non_object_events_match_only_absence() {
    let pattern = EventPattern::parse(r#"{"a": [{"exists": false}]}"#).unwrap();
    assert!(pattern.matches(&json!("text")));
    assert!(!EventPattern::parse(r#"{"a": ["x"]}"#).unwrap().matches(&json!(["x"])));
    assert!(pattern.matches_json("{}"));
    assert!(!pattern.matches_json("not json"));
}

#[test]
fn paths_do_not_match_by_mere_prefix() {
    check(&[
        (r#"{"a": {"b": ["x"]}}"#, json!({"a": {"bc": "x"}}), false),
        (r#"{"a": {"b": ["x"]}}"#, json!({"ab": "x"}), false),
        (r#"{"a.b": ["x"]}"#, json!({"a": {"b": {"c": "x"}}}), false),
        (r#"{"a": {"b": {"c": ["x"]}}}"#, json!({"a": [{"b": [{"c": "y"}, {"c": "x"}]}]}), true),
    ]);
}

#[test]
fn large_arrays_stay_fast() {
    let items: Vec<Value> =
        (0..2000).map(|i| json!({"id": i, "kind": if i == 1999 { "last" } else { "other" }})).collect();
    let event = json!({"detail": {"items": items}});
    let pattern =
        EventPattern::parse(r#"{"detail": {"items": {"id": [{"numeric": [">", 1990]}], "kind": ["last"]}}}"#).unwrap();
    assert!(pattern.matches(&event));
    let pattern = EventPattern::parse(r#"{"detail": {"items": {"id": [5], "kind": ["last"]}}}"#).unwrap();
    assert!(!pattern.matches(&event));
}
