//! Tests of condition expressions, most cases taken from the DynamoDB
//! Developer Guide ("Condition and filter expressions, operators, and
//! functions") and from DynamoDB's observed behaviour.

use serde_json::json;

use super::*;
use crate::expression::testing::{attrs, item};

fn sample() -> Item {
    item(json!({
        "Id": {"N": "456"},
        "Price": {"N": "650"},
        "ProductCategory": {"S": "Sporting Goods"},
        "Title": {"S": "18-Bicycle 456"},
        "Brand": {"S": "Brand-Company C"},
        "Color": {"SS": ["Red", "Black"]},
        "Sizes": {"NS": ["1", "2", "10"]},
        "Bin": {"B": "aGVsbG8="},
        "Bins": {"BS": ["aGVsbG8=", "AAE="]},
        "InStock": {"BOOL": true},
        "Gone": {"NULL": true},
        "Emoji": {"S": "é𝄞"},
        "Pictures": {"M": {
            "FrontView": {"S": "http://example.com/products/456_front.jpg"},
            "SideView": {"S": "http://example.com/products/456_left_side.jpg"}
        }},
        "Reviews": {"L": [{"N": "5"}, {"S": "great"}, {"L": [{"N": "1"}]}]},
        "Low": {"N": "100"},
        "High": {"N": "1000"}
    }))
}

fn sample_attrs() -> ExpressionAttributes {
    attrs(
        json!({"#pr": "Price", "#p": "Pictures", "#sv": "SideView", "#status": "status", "#c": "Color"}),
        json!({
            ":p": {"N": "650"}, ":lo": {"N": "500"}, ":hi": {"N": "700"}, ":low": {"N": "1"},
            ":cat1": {"S": "Sporting Goods"}, ":cat2": {"S": "Gardening"}, ":red": {"S": "Red"},
            ":ten": {"N": "10"}, ":v_sub": {"S": "http://"}, ":bike": {"S": "Bicycle"},
            ":s": {"S": "S"}, ":ss": {"S": "SS"}, ":ns": {"S": "NS"}, ":n": {"S": "N"}, ":m": {"S": "M"},
            ":l": {"S": "L"}, ":b": {"S": "B"}, ":bs": {"S": "BS"}, ":bool": {"S": "BOOL"}, ":null": {"S": "NULL"},
            ":he": {"B": "aGU="}, ":ll": {"B": "bGw="}, ":bin": {"B": "AAE="}, ":five": {"N": "5"},
            ":great": {"S": "great"}, ":one_list": {"L": [{"N": "1"}]}, ":three": {"N": "3"}, ":two": {"N": "2"},
            ":x": {"S": "x"}, ":price_s": {"S": "650"}, ":ab": {"SS": ["Black", "Red"]}
        }),
    )
}

fn eval(text: &str, item: Option<&Item>) -> bool {
    let a = sample_attrs();
    let condition = parse_condition(text, "ConditionExpression", &a).unwrap_or_else(|e| panic!("{text}: {e}"));
    condition.evaluate(item).unwrap()
}

#[test]
fn comparisons_functions_and_logic_evaluate_as_dynamodb() {
    let item = sample();
    for (text, expected) in [
        // Comparators.
        ("Price = :p", true),
        ("#pr = :p", true),
        ("Price <> :p", false),
        ("Price < :hi", true),
        ("Price <= :p", true),
        ("Price > :p", false),
        ("Price >= :p", true),
        ("Price = :price_s", false),
        ("Price <> :price_s", true),
        ("Price < :price_s", false),
        ("Title < :x", true),
        ("Bin < :he", false),
        ("Bin > :he", true),
        ("Low < High", true),
        // A missing attribute equals nothing, is unequal to everything.
        ("Absent = :p", false),
        ("Absent <> :p", true),
        ("Absent <> Ghost", true),
        ("Absent = Ghost", false),
        ("Absent < :p", false),
        ("Absent BETWEEN :lo AND :hi", false),
        // Order comparisons of non-scalars from the item are false.
        ("Color < :red", false),
        ("Reviews > :five", false),
        // Whole values compare deeply; sets regardless of order.
        ("Color = :ab", true),
        ("Reviews[2] = :one_list", true),
        // BETWEEN and IN.
        ("Price BETWEEN :lo AND :hi", true),
        ("Price BETWEEN :p AND :p", true),
        ("Price between :hi and High", false),
        ("Price BETWEEN Low AND High", true),
        ("Price BETWEEN Low AND :price_s", false),
        ("ProductCategory IN (:cat1, :cat2)", true),
        ("ProductCategory IN (:cat2)", false),
        ("Price IN (:price_s, :p)", true),
        ("Absent IN (:p)", false),
        // Functions.
        ("attribute_exists(#p.#sv)", true),
        ("attribute_exists(Pictures.RearView)", false),
        ("attribute_not_exists(Manufacturer)", true),
        ("attribute_not_exists (Price)", false),
        ("attribute_exists(Reviews[2][0])", true),
        ("attribute_exists(Reviews[3])", false),
        ("attribute_type(ProductCategory, :s)", true),
        ("attribute_type(Color, :ss)", true),
        ("attribute_type(Sizes, :ns)", true),
        ("attribute_type(Price, :n)", true),
        ("attribute_type(Pictures, :m)", true),
        ("attribute_type(Reviews, :l)", true),
        ("attribute_type(Bin, :b)", true),
        ("attribute_type(Bins, :bs)", true),
        ("attribute_type(InStock, :bool)", true),
        ("attribute_type(Gone, :null)", true),
        ("attribute_type(Price, :s)", false),
        ("attribute_type(Absent, :s)", false),
        ("attribute_type(:p, :n)", true),
        ("begins_with(Pictures.FrontView, :v_sub)", true),
        ("begins_with(Title, :v_sub)", false),
        ("begins_with(Bin, :he)", true),
        ("begins_with(Bin, :ll)", false),
        ("begins_with(Price, :v_sub)", false),
        ("begins_with(Absent, :v_sub)", false),
        ("begins_with(:bike, :x)", false),
        ("contains(Brand, :x)", false),
        ("contains(Title, :bike)", true),
        ("contains(Color, :red)", true),
        ("contains(#c, :cat1)", false),
        ("contains(Sizes, :ten)", true),
        ("contains(Sizes, :three)", false),
        ("contains(Bin, :ll)", true),
        ("contains(Bins, :bin)", true),
        ("contains(Reviews, :great)", true),
        ("contains(Reviews, :one_list)", true),
        ("contains(Reviews, :two)", false),
        ("contains(Price, :p)", false),
        ("contains(Absent, :x)", false),
        ("size(Title) = :five", false),
        ("size(Brand) > :ten", true),
        ("size(Emoji) = :three", true),
        ("size(Bin) = :five", true),
        ("size(Color) = :two", true),
        ("size(Sizes) = :three", true),
        ("size(Bins) = :two", true),
        ("size(Reviews) = :three", true),
        ("size(Pictures) = :two", true),
        ("size(Pictures) <> :two", false),
        ("size(Price) = :three", false),
        ("size(Price) <> :three", true),
        ("size(InStock) >= :low", false),
        ("size(Absent) < :ten", false),
        ("size(:bike) = :three", false),
        ("size(Title) > size(Brand)", false),
        ("size(Reviews[2]) = :low", true),
        // NOT binds tighter than AND, AND tighter than OR.
        ("NOT Price = :p", false),
        ("not NOT Price = :p", true),
        ("NOT Price = :p AND Price = :p", false),
        ("NOT (Price = :p AND Absent = :p)", true),
        ("Price = :p OR Absent = :p AND Absent = :p", true),
        ("(Price = :p OR Absent = :p) AND Absent = :p", false),
        ("Absent = :p AND Price = :p OR Price = :p", true),
        ("Price BETWEEN :lo AND :hi AND Price = :p", true),
        ("Price = :p aNd Low < High oR Absent = :p", true),
        ("(Price = :p) AND (attribute_exists(Title))", true),
        ("(Price = :p AND (attribute_exists(Title)))", true),
    ] {
        assert_eq!(eval(text, Some(&item)), expected, "{text}");
    }
}

#[test]
fn an_absent_item_has_no_attributes() {
    for (text, expected) in [
        ("attribute_not_exists(Id)", true),
        ("attribute_exists(Id)", false),
        ("Id <> :p", true),
        ("Id = :p", false),
        ("NOT contains(Color, :red)", true),
    ] {
        assert_eq!(eval(text, None), expected, "{text}");
        assert_eq!(eval(text, Some(&Item::new())), expected, "{text}");
    }
}

#[test]
fn mistakes_get_dynamodbs_messages() {
    for (text, expected) in [
        ("Price =", "Syntax error; token: \"<EOF>\", near: \"=\""),
        ("Price = :p AND", "Syntax error; token: \"<EOF>\", near: \"AND\""),
        ("Price", "Syntax error; token: \"<EOF>\", near: \"Price\""),
        (":p", "Syntax error; token: \"<EOF>\", near: \":p\""),
        ("Price != :p", "Syntax error; token: \"!\", near: \"Price !=\""),
        ("Price IN ()", "Syntax error; token: \")\", near: \"()\""),
        ("Price = :p Price", "Syntax error; token: \"Price\", near: \":p Price\""),
        ("(Price = :p", "Syntax error; token: \"<EOF>\", near: \":p\""),
        ("Price BETWEEN :lo OR :hi", "Syntax error; token: \"OR\", near: \":lo OR :hi\""),
        ("status = :p", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("Price = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"),
        ("#nope = :p", "An expression attribute name used in the document path is not defined; attribute name: #nope"),
        ("foo(Price)", "Invalid function name; function: foo"),
        ("ATTRIBUTE_EXISTS(Price)", "Invalid function name; function: ATTRIBUTE_EXISTS"),
        ("dog(Price) = :p", "Invalid function name; function: dog"),
        ("size(Price)", "The function is not allowed to be used this way in an expression; function: size"),
        (
            "attribute_exists(Price) = :p",
            "The function is not allowed to be used this way in an expression; function: attribute_exists",
        ),
        (
            "if_not_exists(Price, :p) = :p",
            "The function is not allowed to be used this way in an expression; function: if_not_exists",
        ),
        (
            "list_append(Price, :p) = :p",
            "The function is not allowed to be used this way in an expression; function: list_append",
        ),
        (
            "size(Price, Price) = :p",
            "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
        ),
        (
            "attribute_exists(Price, Id)",
            "Incorrect number of operands for operator or function; operator or function: attribute_exists, \
             number of operands: 2",
        ),
        (
            "attribute_exists(:p)",
            "Operator or function requires a document path; operator or function: attribute_exists",
        ),
        (
            "attribute_type(Price, :x)",
            "Invalid attribute type name found; type: x, valid types: { B, NULL, SS, BOOL, L, BS, N, NS, S, M }",
        ),
        (
            "attribute_type(Price, :p)",
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N",
        ),
        (
            "attribute_type(Price, Title)",
            "Operator or function requires an expression attribute value; operator or function: attribute_type",
        ),
        (
            "begins_with(Title, :p)",
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "size(:p) = :p",
            "Incorrect operand type for operator or function; operator or function: size, operand type: N",
        ),
        ("Price < :ab", "Incorrect operand type for operator or function; operator or function: <, operand type: SS"),
        (
            ":one_list >= Price",
            "Incorrect operand type for operator or function; operator or function: >=, operand type: L",
        ),
        (
            "Price BETWEEN :one_list AND :p",
            "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L",
        ),
        (
            "Price BETWEEN :hi AND :lo",
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound \
             operand: AttributeValue: {N:700}, upper bound operand: AttributeValue: {N:500}",
        ),
        (
            "Price BETWEEN :lo AND :x",
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: \
             AttributeValue: {N:500}, upper bound operand: AttributeValue: {S:x}",
        ),
        (
            "contains(#c, Color)",
            "The first operand must be distinct from the remaining operands for this operator or function; \
             operator: contains, first operand: [Color]",
        ),
        ("((attribute_exists(Price)))", "The expression has redundant parentheses;"),
        ("Price = :p AND ((Id = :p))", "The expression has redundant parentheses;"),
        ("", "The expression can not be empty;"),
    ] {
        let a = sample_attrs();
        let got = parse_condition(text, "FilterExpression", &a).unwrap_err().to_string();
        assert_eq!(got, format!("Invalid FilterExpression: {expected}"), "{text}");
    }
}

#[test]
fn in_takes_up_to_100_values() {
    let values: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!(":v{i}"), json!({"N": i.to_string()}))).collect();
    let a = attrs(serde_json::Value::Null, serde_json::Value::Object(values));
    let list = |n: usize| (0..n).map(|i| format!(":v{i}")).collect::<Vec<_>>().join(", ");
    let item = item(json!({"a": {"N": "99"}}));
    let condition = parse_condition(&format!("a IN ({})", list(100)), "ConditionExpression", &a).unwrap();
    assert!(condition.evaluate(Some(&item)).unwrap());
    let err = parse_condition(&format!("a IN ({})", list(101)), "ConditionExpression", &a).unwrap_err();
    assert!(err.to_string().contains("too many operands; number of operands: 101"), "{err}");
}

#[test]
fn conditions_list_the_paths_they_read() {
    let a = sample_attrs();
    let condition =
        parse_condition("#p.#sv = :x OR (size(Reviews[1]) > :ten AND NOT Low BETWEEN :lo AND High)", "C", &a).unwrap();
    let paths: Vec<String> = condition.paths().iter().map(Path::to_string).collect();
    assert_eq!(paths, ["Pictures.SideView", "Reviews[1]", "Low", "High"]);
}
