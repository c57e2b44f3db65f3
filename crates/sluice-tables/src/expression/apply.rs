//! Applying an update expression to an item, with DynamoDB's semantics:
//! every `SET` value is computed from the item as it was before the update;
//! list indexes name the elements as they were (removals happen last, from
//! the highest index down, and `SET` past a list's end appends, lowest
//! index first); `ADD` adds numbers exactly and unites sets, creating the
//! attribute when missing; `DELETE` takes elements out of a set and removes
//! the attribute when the set becomes empty. On error the item is left
//! unchanged.

use std::borrow::Cow;

use super::arith;
use super::path::{compare_paths, Path, Slot};
use super::update::{Action, SetOperand, SetValue, UpdateExpression};
use crate::error::{TablesError, TablesResult};
use crate::value::{Item, Value};

impl UpdateExpression {
    /// Applies the update to `item` (an empty item for one that does not
    /// exist yet); on error `item` is unchanged.
    pub fn apply(&self, item: &mut Item) -> TablesResult<()> {
        let mut sets = Vec::new();
        for action in &self.actions {
            if let Action::Set(path, value) = action {
                sets.push((path, evaluate(value, item)?));
            }
        }
        sets.sort_by(|a, b| compare_paths(a.0, b.0));
        let mut updated = item.clone();
        for (path, value) in sets {
            slot(&mut updated, path)?.put(value);
        }
        let mut removals = Vec::new();
        for action in &self.actions {
            match action {
                Action::Remove(path) => removals.push(path),
                Action::Add(path, value) => add(&mut updated, path, value)?,
                Action::Delete(path, value) => {
                    if delete(&mut updated, path, value)? {
                        removals.push(path);
                    }
                }
                Action::Set(..) => {}
            }
        }
        removals.sort_by(|a, b| compare_paths(b, a));
        for path in removals {
            slot(&mut updated, path)?.remove();
        }
        *item = updated;
        Ok(())
    }
}

fn slot<'a>(item: &'a mut Item, path: &'a Path) -> TablesResult<Slot<'a>> {
    Slot::find(item, path).ok_or_else(|| {
        TablesError::validation("The document path provided in the update expression is invalid for update")
    })
}

fn incorrect_type() -> TablesError {
    TablesError::validation("An operand in the update expression has an incorrect data type")
}

fn evaluate(value: &SetValue, item: &Item) -> TablesResult<Value> {
    let number = |operand: &SetOperand| match resolve(operand, item)? {
        Cow::Borrowed(Value::N(n)) => Ok(n.clone()),
        Cow::Owned(Value::N(n)) => Ok(n),
        _ => Err(incorrect_type()),
    };
    Ok(match value {
        SetValue::Operand(operand) => resolve(operand, item)?.into_owned(),
        SetValue::Plus(a, b) => Value::N(arith::add(&number(a)?, &number(b)?)?),
        SetValue::Minus(a, b) => Value::N(arith::subtract(&number(a)?, &number(b)?)?),
    })
}

fn resolve<'v>(operand: &'v SetOperand, item: &'v Item) -> TablesResult<Cow<'v, Value>> {
    match operand {
        SetOperand::Path(path) => path.get(item).map(Cow::Borrowed).ok_or_else(|| {
            TablesError::validation("The provided expression refers to an attribute that does not exist in the item")
        }),
        SetOperand::Value(value) => Ok(Cow::Borrowed(value)),
        SetOperand::IfNotExists(path, fallback) => match path.get(item) {
            Some(value) => Ok(Cow::Borrowed(value)),
            None => resolve(fallback, item),
        },
        SetOperand::ListAppend(a, b) => match (resolve(a, item)?.as_ref(), resolve(b, item)?.as_ref()) {
            (Value::L(a), Value::L(b)) => Ok(Cow::Owned(Value::L(a.iter().chain(b).cloned().collect()))),
            _ => Err(incorrect_type()),
        },
    }
}

fn add(item: &mut Item, path: &Path, value: &Value) -> TablesResult<()> {
    let target = slot(item, path)?;
    let sum = match (target.get(), value) {
        (None, value) => value.clone(),
        (Some(Value::N(a)), Value::N(b)) => Value::N(arith::add(a, b)?),
        (Some(Value::Ss(a)), Value::Ss(b)) => Value::Ss(union(a, b)),
        (Some(Value::Ns(a)), Value::Ns(b)) => Value::Ns(union(a, b)),
        (Some(Value::Bs(a)), Value::Bs(b)) => Value::Bs(union(a, b)),
        _ => return Err(incorrect_type()),
    };
    target.put(sum);
    Ok(())
}

/// Takes `value`'s elements out of the set at `path`; true when none are
/// left (the caller then removes the attribute).
fn delete(item: &mut Item, path: &Path, value: &Value) -> TablesResult<bool> {
    let target = slot(item, path)?;
    let rest = match (target.get(), value) {
        (None, _) => return Ok(false),
        (Some(Value::Ss(a)), Value::Ss(b)) => Value::Ss(difference(a, b)),
        (Some(Value::Ns(a)), Value::Ns(b)) => Value::Ns(difference(a, b)),
        (Some(Value::Bs(a)), Value::Bs(b)) => Value::Bs(difference(a, b)),
        _ => return Err(incorrect_type()),
    };
    let empty = matches!(&rest, Value::Ss(s) if s.is_empty())
        || matches!(&rest, Value::Ns(s) if s.is_empty())
        || matches!(&rest, Value::Bs(s) if s.is_empty());
    target.put(rest);
    Ok(empty)
}

fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    let mut all = a.to_vec();
    for element in b {
        if !all.contains(element) {
            all.push(element.clone());
        }
    }
    all
}

fn difference<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|element| !b.contains(element)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{attrs, item};
    use super::super::{parse_update, ExpressionAttributes};
    use super::*;

    fn values() -> ExpressionAttributes {
        attrs(
            json!({"#n": "n", "#l": "lst"}),
            json!({
                ":one": {"N": "1"}, ":tenth": {"N": "0.1"}, ":fifth": {"N": "0.2"}, ":seven": {"N": "7"},
                ":big": {"N": "9e125"}, ":s": {"S": "new"}, ":l": {"L": [{"S": "x"}]}, ":empty": {"L": []},
                ":ss": {"SS": ["b", "c"]}, ":ns": {"NS": ["2", "3"]}, ":bs": {"BS": ["AQ=="]}, ":all": {"SS": ["a", "b"]},
                ":m": {"M": {"k": {"S": "v"}}}, ":neg": {"N": "-0.3"}
            }),
        )
    }

    fn start() -> Item {
        item(json!({
            "n": {"N": "0.1"},
            "s": {"S": "hello"},
            "lst": {"L": [{"N": "2"}, {"N": "3"}, {"N": "4"}, {"N": "5"}, {"N": "6"}, {"N": "7"}]},
            "tags": {"SS": ["a", "b"]},
            "nums": {"NS": ["1"]},
            "bins": {"BS": ["AA=="]},
            "doc": {"M": {"x": {"N": "3"}, "c": {"M": {"y": {"N": "3"}}}}}
        }))
    }

    fn updated(text: &str) -> TablesResult<Item> {
        let a = values();
        let update = parse_update(text, &a).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut item = start();
        update.apply(&mut item)?;
        Ok(item)
    }

    #[test]
    fn updates_change_items_as_dynamodb_does() {
        for (text, changed) in [
            ("SET n = n + :fifth", json!({"n": {"N": "0.3"}})),
            ("SET n = :tenth + :fifth", json!({"n": {"N": "0.3"}})),
            ("SET n = :seven - n", json!({"n": {"N": "6.9"}})),
            ("SET n = n - :neg", json!({"n": {"N": "0.4"}})),
            ("SET t = s", json!({"t": {"S": "hello"}})),
            ("SET s = :s, t = s", json!({"s": {"S": "new"}, "t": {"S": "hello"}})),
            ("REMOVE s SET t = s", json!({"s": null, "t": {"S": "hello"}})),
            ("SET n = if_not_exists(n, :one)", json!({})),
            ("SET m = if_not_exists(absent, :one)", json!({"m": {"N": "1"}})),
            ("SET n = if_not_exists(n, :one) + :one", json!({"n": {"N": "1.1"}})),
            (
                "SET #l = list_append(#l, :l)",
                json!({"lst": {"L": [
                {"N": "2"}, {"N": "3"}, {"N": "4"}, {"N": "5"}, {"N": "6"}, {"N": "7"}, {"S": "x"}]}}),
            ),
            ("SET l2 = list_append(:l, :empty)", json!({"l2": {"L": [{"S": "x"}]}})),
            ("SET l2 = list_append(if_not_exists(l2, :empty), :l)", json!({"l2": {"L": [{"S": "x"}]}})),
            (
                "SET doc.c.d = :s, doc.x = :m",
                json!({"doc": {"M": {"x": {"M": {"k": {"S": "v"}}},
                "c": {"M": {"y": {"N": "3"}, "d": {"S": "new"}}}}}}),
            ),
            (
                "SET lst[1] = :s",
                json!({"lst": {"L": [
                {"N": "2"}, {"S": "new"}, {"N": "4"}, {"N": "5"}, {"N": "6"}, {"N": "7"}]}}),
            ),
            (
                "SET lst[84] = :one, lst[37] = :s, lst[50] = :seven",
                json!({"lst": {"L": [
                {"N": "2"}, {"N": "3"}, {"N": "4"}, {"N": "5"}, {"N": "6"}, {"N": "7"},
                {"S": "new"}, {"N": "7"}, {"N": "1"}]}}),
            ),
            (
                "REMOVE lst[1] SET lst[3] = :seven",
                json!({"lst": {"L": [
                {"N": "2"}, {"N": "4"}, {"N": "7"}, {"N": "6"}, {"N": "7"}]}}),
            ),
            (
                "REMOVE lst[1], lst[3], lst[17]",
                json!({"lst": {"L": [
                {"N": "2"}, {"N": "4"}, {"N": "6"}, {"N": "7"}]}}),
            ),
            ("REMOVE doc.x, doc.c.y, absent, doc.nothing", json!({"doc": {"M": {"c": {"M": {}}}}})),
            ("ADD n :tenth", json!({"n": {"N": "0.2"}})),
            ("ADD fresh :seven", json!({"fresh": {"N": "7"}})),
            (
                "ADD doc.x :one, doc.c.z :one",
                json!({"doc": {"M": {"x": {"N": "4"},
                "c": {"M": {"y": {"N": "3"}, "z": {"N": "1"}}}}}}),
            ),
            ("ADD tags :ss", json!({"tags": {"SS": ["a", "b", "c"]}})),
            ("ADD nums :ns, bins :bs", json!({"nums": {"NS": ["1", "2", "3"]}, "bins": {"BS": ["AA==", "AQ=="]}})),
            ("ADD fresh :ss", json!({"fresh": {"SS": ["b", "c"]}})),
            ("DELETE tags :ss", json!({"tags": {"SS": ["a"]}})),
            ("DELETE tags :all", json!({"tags": null})),
            ("DELETE absent :ss, nums :ns", json!({})),
            (
                "SET lst[0] = :one REMOVE lst[5] ADD lst[2] :one",
                json!({"lst": {"L": [
                {"N": "1"}, {"N": "3"}, {"N": "5"}, {"N": "5"}, {"N": "6"}]}}),
            ),
        ] {
            let mut expected = start();
            for (name, value) in changed.as_object().unwrap() {
                match value {
                    serde_json::Value::Null => expected.remove(name),
                    value => expected.insert(name.clone(), item(json!({ "v": value })).remove("v").unwrap()),
                };
            }
            assert_eq!(updated(text).unwrap_or_else(|e| panic!("{text}: {e}")), expected, "{text}");
        }
    }

    /// The examples of the Developer Guide's "Update expressions" page, on
    /// its `ProductCatalog` item.
    #[test]
    fn the_developer_guides_examples_work() {
        let product = || {
            item(json!({
                "Id": {"N": "123"}, "Title": {"S": "Bicycle 123"}, "Brand": {"S": "Brand-Company C"},
                "Price": {"N": "500"}, "Color": {"SS": ["Red", "Black"]}, "ProductCategory": {"S": "Bicycle"},
                "InStock": {"BOOL": true}, "RelatedItems": {"L": [{"N": "341"}, {"N": "472"}, {"N": "649"}]},
                "ProductReviews": {"M": {
                    "FiveStar": {"L": [{"S": "Excellent!"}, {"S": "Do yourself a favor."}]},
                    "OneStar": {"L": [{"S": "Terrible product!"}]}
                }}
            }))
        };
        let a = attrs(
            json!({"#pr": "ProductReviews", "#ri": "RelatedItems"}),
            json!({
                ":c": {"S": "Hardware"}, ":p": {"N": "60"}, ":ri": {"S": "Nails"}, ":r5": {"S": "Very happy!"},
                ":r3": {"L": [{"S": "Just OK"}]}, ":fifteen": {"N": "15"}, ":vals": {"L": [{"S": "Screwdriver"}]},
                ":hundred": {"N": "100"}, ":q": {"N": "5"}, ":colors": {"SS": ["Orange", "Purple"]},
                ":red": {"SS": ["Red", "Yellow"]}
            }),
        );
        for (text, path, expected) in [
            ("SET ProductCategory = :c, Price = :p", "ProductCategory", json!({"S": "Hardware"})),
            ("SET ProductCategory = :c, Price = :p", "Price", json!({"N": "60"})),
            ("SET RelatedItems[1] = :ri", "RelatedItems", json!({"L": [{"N": "341"}, {"S": "Nails"}, {"N": "649"}]})),
            (
                "SET #pr.FiveStar[1] = :r5, #pr.ThreeStar = :r3",
                "ProductReviews",
                json!({"M": {
                    "FiveStar": {"L": [{"S": "Excellent!"}, {"S": "Very happy!"}]},
                    "OneStar": {"L": [{"S": "Terrible product!"}]},
                    "ThreeStar": {"L": [{"S": "Just OK"}]}
                }}),
            ),
            ("SET Price = Price - :fifteen", "Price", json!({"N": "485"})),
            (
                "SET #ri = list_append(#ri, :vals)",
                "RelatedItems",
                json!({"L": [
                {"N": "341"}, {"N": "472"}, {"N": "649"}, {"S": "Screwdriver"}]}),
            ),
            (
                "SET #ri = list_append(:vals, #ri)",
                "RelatedItems",
                json!({"L": [
                {"S": "Screwdriver"}, {"N": "341"}, {"N": "472"}, {"N": "649"}]}),
            ),
            ("SET Price = if_not_exists(Price, :hundred)", "Price", json!({"N": "500"})),
            ("REMOVE Brand, InStock, QuantityOnHand", "Brand", serde_json::Value::Null),
            ("REMOVE Brand, InStock, QuantityOnHand", "InStock", serde_json::Value::Null),
            ("REMOVE RelatedItems[1], RelatedItems[2]", "RelatedItems", json!({"L": [{"N": "341"}]})),
            ("ADD QuantityOnHand :q", "QuantityOnHand", json!({"N": "5"})),
            ("ADD Color :colors", "Color", json!({"SS": ["Red", "Black", "Orange", "Purple"]})),
            ("DELETE Color :red", "Color", json!({"SS": ["Black"]})),
        ] {
            let mut product_item = product();
            parse_update(text, &a).unwrap().apply(&mut product_item).unwrap_or_else(|e| panic!("{text}: {e}"));
            let expected = (!expected.is_null()).then(|| item(json!({ "v": expected })).remove("v").unwrap());
            assert_eq!(product_item.get(path).cloned(), expected, "{text}");
        }
    }

    #[test]
    fn updates_of_missing_items_start_from_nothing() {
        let a = values();
        let mut item = Item::new();
        parse_update("SET a = :one ADD b :ss, c :seven", &a).unwrap().apply(&mut item).unwrap();
        assert_eq!(
            item,
            super::super::testing::item(json!({"a": {"N": "1"}, "b": {"SS": ["b", "c"]}, "c": {"N": "7"}}))
        );
    }

    #[test]
    fn bad_updates_fail_with_dynamodbs_messages_and_change_nothing() {
        let absent = "The provided expression refers to an attribute that does not exist in the item";
        let invalid = "The document path provided in the update expression is invalid for update";
        let wrong = "An operand in the update expression has an incorrect data type";
        let overflow = "Number overflow. Attempting to store a number with magnitude larger than supported range";
        for (text, expected) in [
            ("SET t = absent", absent),
            ("SET n = absent + :one", absent),
            ("SET l = list_append(absent, :l)", absent),
            ("SET n = s + :one", wrong),
            ("SET n = :one - doc", wrong),
            ("SET l = list_append(s, :l)", wrong),
            ("SET l = list_append(:l, tags)", wrong),
            ("SET absent.x = :one", invalid),
            ("SET s.x = :one", invalid),
            ("SET lst.x = :one", invalid),
            ("SET s[0] = :one", invalid),
            ("SET doc[0] = :one", invalid),
            ("SET absent[0] = :one", invalid),
            ("REMOVE s.x", invalid),
            ("REMOVE absent.x", invalid),
            ("REMOVE absent[0]", invalid),
            ("ADD absent.x :one", invalid),
            ("ADD s :one", wrong),
            ("ADD n :ss", wrong),
            ("ADD tags :ns", wrong),
            ("ADD lst :ss", wrong),
            ("DELETE s :ss", wrong),
            ("DELETE tags :ns", wrong),
            ("SET n = :big + :big", overflow),
            (
                "ADD n :big, nums :ns SET t = :s",
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
        ] {
            let a = values();
            let update = parse_update(text, &a).unwrap_or_else(|e| panic!("{text}: {e}"));
            let mut item = start();
            let err = update.apply(&mut item).unwrap_err();
            assert_eq!(err.to_string(), expected, "{text}");
            assert_eq!(item, start(), "{text}: unchanged");
        }
        assert_eq!(updated("SET n = :big - n").unwrap_err().to_string(), overflow);
    }
}
