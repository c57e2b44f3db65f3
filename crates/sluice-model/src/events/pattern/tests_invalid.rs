//! Refused patterns. The cases marked "AWS" carry messages recorded from
//! the real service (location included); the others check the key fact.

use super::{EventPattern, MAX_PATTERN_LENGTH};

fn refused(pattern: &str) -> String {
    match EventPattern::parse(pattern) {
        Ok(_) => panic!("{pattern} was accepted"),
        Err(e) => e.message,
    }
}

/// The message EventBridge gives: reason plus Jackson's location.
fn located(reason: &str, pattern: &str, column: usize) -> String {
    format!(
        "Event pattern is not valid. Reason: {reason}\n at [Source: (String)\"{pattern}\"; line: 1, column: {column}]"
    )
}

#[test]
fn messages_recorded_from_aws() {
    let cases: &[(&str, &str, usize)] = &[
        (r#"{"int": 42}"#, r#""int" must be an object or an array"#, 11),
        (r#"{"string": "my-value"}"#, r#""string" must be an object or an array"#, 13),
        (r#"{"resources": []}"#, "Empty arrays are not allowed", 17),
        (r#"{"detail": {"equal": [{"NUMERIC": ["=", 5]}]}}"#, "Unrecognized match type NUMERIC", 36),
        (r#"{"my_key": [{"EXISTS": true}]}"#, "Unrecognized match type EXISTS", 28),
        (r#"{"detail": {"c-count": [{"numeric": [">", 0, ">", 0]}]}}"#, "Bad numeric range operator: >", 49),
        (r#"{"detail": {"c-count": [{"numeric": [">", 0, "<"]}]}}"#, "Value of < must be numeric", 50),
        (
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:**:event-bus/*"}]}"#,
            "Consecutive wildcard characters at pos 26",
            72,
        ),
        (
            r#"{"detail-type": [{"equals-ignore-case": ["ec2 instance state-change notification"]}]}"#,
            "equals-ignore-case match pattern must be a string",
            42,
        ),
        (
            r#"{"detail-type": [{"equals-ignore-case": {"prefix": "ec2"}}]}"#,
            "equals-ignore-case match pattern must be a string",
            42,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": {"equals-ignore-case": 123}}]}}"#,
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
            66,
        ),
        (r#"{"EventBusArn": [{"wildcard": 123}]}"#, "wildcard match pattern must be a string", 34),
        (r#"{"EventBusArn": [{"wildcard": ["arn:*"]}]}"#, "wildcard match pattern must be a string", 32),
        (
            r#"{"detail": {"FilePath": [{"anything-but": {"wildcard": 123}}]}}"#,
            "wildcard match pattern must be a string",
            59,
        ),
        (
            r#"{"detail": {"FileName": [{"anything-but": {"suffix": 123}}]}}"#,
            "prefix/suffix match pattern must be a string",
            57,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": {"prefix": 123}}]}}"#,
            "prefix/suffix match pattern must be a string",
            54,
        ),
        (r#"{"time": [{"prefix": ["2022-07-13"]}]}"#, "prefix match pattern must be a string", 23),
        (r#"{"time": [{"prefix": 123}]}"#, "prefix match pattern must be a string", 25),
        (r#"{"FileName": [{"suffix": 123}]}"#, "suffix match pattern must be a string", 29),
        (r#"{"FileName": [{"suffix": [".png"]}]}"#, "suffix match pattern must be a string", 27),
        (
            r#"{"detail": {"FileName": [{"anything-but": {"prefix": {"equals-ignore-case": "file"}}}]}}"#,
            "Value of anything-but must be an array or single string/number value.",
            55,
        ),
        (
            r#"{"detail": {"FileName": [{"anything-but": {"suffix": {"equals-ignore-case": ".png"}}}]}}"#,
            "Value of anything-but must be an array or single string/number value.",
            55,
        ),
        (
            r#"{"detail": {"sourceIPAddress": [{"cidr": ["bad-type"]}]}}"#,
            "prefix match pattern must be a string",
            43,
        ),
        ("this is valid json but not a dict", "Unrecognized token 'this': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", 5),
        (
            r#"{"not": closed mark""#,
            "Unrecognized token 'closed': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            15,
        ),
        (r#"["not", "a", "dict", "but valid json"]"#, "Filter is not an object", 2),
        ("{'bad': 'quotation'}", "Unexpected character (''' (code 39)): was expecting double-quote to start field name", 2),
    ];
    for (pattern, reason, column) in cases {
        assert_eq!(refused(pattern), located(reason, pattern, *column), "pattern {pattern}");
    }
}

#[test]
fn list_problems_carry_the_location_twice_as_aws_does() {
    for (pattern, reason, column) in [
        (
            r#"{"detail": {"state": [{"anything-but": {"equals-ignore-case": [123, 456]}}]}}"#,
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
            67,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": {"wildcard": [123, "*/dir/*"]}}]}}"#,
            "wildcard match pattern must be a string",
            57,
        ),
        (
            r#"{"detail": {"FileName": [{"anything-but": {"suffix": [123, ".txt"]}}]}}"#,
            "prefix/suffix match pattern must be a string",
            58,
        ),
        (
            r#"{"detail": {"state": [{"anything-but": {"prefix": [123, "test"]}}]}}"#,
            "prefix/suffix match pattern must be a string",
            55,
        ),
    ] {
        let at = format!("\n at [Source: (String)\"{pattern}\"; line: 1, column: {column}]");
        assert_eq!(refused(pattern), format!("Event pattern is not valid. Reason: {reason}{at}{at}"));
    }
}

#[test]
fn cidr_problems_carry_no_location() {
    for (pattern, reason) in [
        (r#"{"ip": [{"cidr": "10.0.0.0"}]}"#, "Malformed CIDR, one '/' required"),
        (r#"{"ip": [{"cidr": "10.0.0.0/"}]}"#, "Malformed CIDR, one '/' required"),
        (r#"{"ip": [{"cidr": "10.0.0.0/8/8"}]}"#, "Malformed CIDR, one '/' required"),
        (r#"{"ip": [{"cidr": "10.0.0.0/xx"}]}"#, "Malformed CIDR, mask bits must be an integer"),
        (r#"{"ip": [{"cidr": "10.0.0.0/-1"}]}"#, "Malformed CIDR, mask bits must not be negative"),
        (r#"{"ip": [{"cidr": "xx.11.xx/24"}]}"#, "Nonstandard IP address: xx.11.xx"),
        (r#"{"ip": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}"#, "Nonstandard IP address: xxxx:db8:1234:1a00::"),
        (r#"{"ip": [{"cidr": "300.1.1.1/8"}]}"#, "Invalid IP address: 300.1.1.1"),
        (r#"{"ip": [{"cidr": "1::2::3/64"}]}"#, "Invalid IP address: 1::2::3"),
        (r#"{"ip": [{"cidr": "10.0.0.1/32"}]}"#, "IPv4 mask bits must be < 32"),
        (r#"{"ip": [{"cidr": "::1/128"}]}"#, "IPv6 mask bits must be < 128"),
    ] {
        assert_eq!(refused(pattern), format!("Event pattern is not valid. Reason: {reason}"), "{pattern}");
    }
}

#[test]
fn structural_problems() {
    for (pattern, fact) in [
        ("{}", "Empty objects are not allowed"),
        (r#"{"detail": {}}"#, "Empty objects are not allowed"),
        ("", "Filter is not an object"),
        ("5", "Filter is not an object"),
        (r#"{"a": [["x"]]}"#, "Match value must be String, number, true, false, or null"),
        (r#"{"a": [{}]}"#, "Match expression name not found"),
        (r#"{"a": ["x"]"#, "Unexpected end-of-input: expected close marker for Object"),
        (r#"{"a": ["x" "y"]}"#, "was expecting comma to separate Array entries"),
        (r#"{"a": ["x"] "b": ["y"]}"#, "was expecting comma to separate Object entries"),
        (r#"{"a" ["x"]}"#, "was expecting a colon to separate field name and value"),
        (r#"{"a": ["x",]}"#, "Unexpected character (']' (code 93)): expected a value"),
        (r#"{"a": [01]}"#, "Leading zeroes not allowed"),
        (r#"{"a": ["\q"]}"#, "Unrecognized character escape 'q' (code 113)"),
        (r#"{"a": ["x"]} {"b": ["y"]}"#, "Unexpected content after the end of the pattern object"),
        (r#"{"a": [tru]}"#, "Unrecognized token 'tru'"),
        (r#"{"a": ["x"]]}"#, "Unexpected close marker ']'"),
    ] {
        let message = refused(pattern);
        assert!(message.starts_with("Event pattern is not valid. Reason: "), "{message}");
        assert!(message.contains(fact), "{pattern}: {message}");
    }
}

#[test]
fn operator_problems() {
    for (pattern, fact) in [
        (r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, "Only one key allowed in match expression"),
        (r#"{"a": [{"bogus": "x"}]}"#, "Unrecognized match type bogus"),
        (r#"{"a": [{"prefix": {"bogus": "x"}}]}"#, "Unsupported prefix pattern: bogus"),
        (r#"{"a": [{"suffix": {"bogus": "x"}}]}"#, "Unsupported suffix pattern: bogus"),
        (r#"{"a": [{"prefix": {"equals-ignore-case": 5}}]}"#, "equals-ignore-case match pattern must be a string"),
        (r#"{"a": [{"exists": "true"}]}"#, "exists match pattern must be either true or false."),
        (r#"{"a": [{"exists": true, "prefix": "x"}]}"#, "Only one key allowed in match expression"),
        (r#"{"a": [{"wildcard": "a**b"}]}"#, "Consecutive wildcard characters at pos 2"),
        (r#"{"a": [{"wildcard": "a\\b"}]}"#, "Invalid escape character at pos 2"),
        (r#"{"a": [{"wildcard": "ab\\"}]}"#, "Invalid escape character at pos 3"),
        (r#"{"a": [{"anything-but": {"wildcard": "x**"}}]}"#, "Consecutive wildcard characters at pos 2"),
        (r#"{"a": [{"anything-but": {"bogus": "x"}}]}"#, "Unsupported anything-but pattern: bogus"),
        (r#"{"a": [{"anything-but": {"prefix": ""}}]}"#, "Null prefix/suffix not allowed"),
        (r#"{"a": [{"anything-but": {"suffix": ""}}]}"#, "Null prefix/suffix not allowed"),
        (r#"{"a": [{"anything-but": ["x", 1]}]}"#, "mixed type is not supported"),
        (r#"{"a": [{"anything-but": []}]}"#, "mixed type is not supported"),
        (r#"{"a": [{"anything-but": [null]}]}"#, "Inside anything but list, start|null|boolean is not supported."),
        (r#"{"a": [{"anything-but": true}]}"#, "Value of anything-but must be an array or single string/number value."),
        (r#"{"a": [{"anything-but": "x", "prefix": "y"}]}"#, "Too many elements in numeric expression"),
        (r#"{"a": [{"anything-but": 6e9}]}"#, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (r#"{"a": [{"anything-but": [6e9]}]}"#, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (r#"{"a": [{"numeric": 5}]}"#, "Value of numeric must be an array."),
        (r#"{"a": [{"numeric": [5]}]}"#, "Invalid member in numeric match: 5"),
        (r#"{"a": [{"numeric": ["!=", 5]}]}"#, "Unrecognized numeric range operator: !="),
        (r#"{"a": [{"numeric": ["=", "5"]}]}"#, "Value of equals must be numeric"),
        (r#"{"a": [{"numeric": [">", "5"]}]}"#, "Value of > must be numeric"),
        (r#"{"a": [{"numeric": ["=", 5, "<", 6]}]}"#, "Too many elements in numeric expression"),
        (r#"{"a": [{"numeric": ["<", 5, ">", 1]}]}"#, "Too many elements in numeric expression"),
        (r#"{"a": [{"numeric": [">", 1, 5]}]}"#, "Bad value in numeric range: 5"),
        (r#"{"a": [{"numeric": [">", 1, "<", 5, "<", 6]}]}"#, "Too many terms in numeric range expression"),
        (r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#, "Bottom must be less than top"),
        (r#"{"a": [{"numeric": [">=", 5, "<=", 5]}]}"#, "Bottom must be less than top"),
        (r#"{"a": [{"numeric": ["<", 5e10]}]}"#, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (r#"{"a": [{"numeric": [">", -5.1e9, "<", 0]}]}"#, "Value must be between -5.0E9 and 5.0E9, inclusive"),
        (r#"{"a": [{"numeric": [">", 0]}, 5]}"#, ""),
    ] {
        if fact.is_empty() {
            assert!(EventPattern::parse(pattern).is_ok(), "{pattern}");
            continue;
        }
        let message = refused(pattern);
        assert!(message.contains(fact), "{pattern}: {message}");
    }
}

#[test]
fn or_problems() {
    for (pattern, fact) in [
        (r#"{"$or": {"a": ["x"]}}"#, "It must be an Array followed with $or."),
        (r#"{"$or": [{"a": ["x"]}]}"#, "There must have at least 2 Objects in $or relationship."),
        (r#"{"$or": []}"#, "There must have at least 2 Objects in $or relationship."),
        (r#"{"$or": [{"a": ["x"]}, "b"]}"#, "Only JSON object is allowed in array of $or relationship."),
        (r#"{"$or": [{"a": ["x"]}, {}]}"#, "Empty objects are not allowed"),
        (
            r#"{"$or": [{"numeric": [1]}, {"prefix": ["abc"]}]}"#,
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        (
            r#"{"$or": [{"a": ["x"]}, {"b": {"exists": [1]}}]}"#,
            "exists is Ruler reserved fieldName which cannot be used inside $or.",
        ),
    ] {
        let message = refused(pattern);
        assert!(message.contains(fact), "{pattern}: {message}");
    }
    // Reserved words are ordinary field names outside $or.
    assert!(EventPattern::parse(r#"{"prefix": ["x"]}"#).is_ok());
    // Too many combinations are refused rather than expanded.
    let or = r#"{"a": ["1"]}, {"b": ["2"]}, {"c": ["3"]}, {"d": ["4"]}"#;
    let many: Vec<String> = (0..6).map(|i| format!("\"f{i}\": {{\"$or\": [{or}]}}")).collect();
    let message = refused(&format!("{{{}}}", many.join(", ")));
    assert!(message.contains("Rule is too complex"), "{message}");
}

#[test]
fn locations_on_later_lines_and_long_sources() {
    let pattern = "{\n  \"detail\": {\n    \"slug\": \"x\"\n  }\n}";
    let message = refused(pattern);
    assert!(message.ends_with("; line: 3, column: 14]"), "{message}");
    let long = format!("{{\"a\": [\"{}\"], \"b\": 1}}", "x".repeat(600));
    let message = refused(&long);
    assert!(message.contains(&format!("\"[truncated {} chars]; line: 1, column: ", long.len() - 500)), "{message}");
}

#[test]
fn size_limit() {
    let ok = format!("{{\"a\": [\"{}\"]}}", "x".repeat(MAX_PATTERN_LENGTH - 11));
    assert_eq!(ok.len(), MAX_PATTERN_LENGTH);
    assert!(EventPattern::parse(&ok).is_ok());
    let too_long = format!("{{\"a\": [\"{}\"]}}", "x".repeat(MAX_PATTERN_LENGTH - 10));
    assert!(refused(&too_long).contains("at most 4096"));
}

#[test]
fn reason_strips_the_location() {
    let e = EventPattern::parse(r#"{"resources": []}"#).unwrap_err();
    assert_eq!(e.reason(), "Empty arrays are not allowed");
    assert_eq!(e.to_string(), e.message);
}
