//! First phase of compiling tasks: reading each wire [`Task`] into a typed
//! [`TaskSpec`] without looking at the source schema. Every problem is
//! recorded, phrased with the task's path (`tasks.N.member...`) the way the
//! model crate phrases its checks.

use std::collections::BTreeMap;

use arrow_schema::DataType;
use sluice_model::appflow::{ConnectorOperator, Operator, OperatorPropertiesKeys as Key, Task, TaskType};
use sluice_model::ValidationProblems;

use crate::data_type::arrow_type_for;

/// What a Validate task does with a record that fails its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationAction {
    /// Leave the record out of the output and count it.
    DropRecord,
    /// Stop the run with an error naming the field and row.
    TerminateFlow,
}

impl ValidationAction {
    /// The value as written in `VALIDATION_ACTION`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ValidationAction::DropRecord => "DropRecord",
            ValidationAction::TerminateFlow => "TerminateFlow",
        }
    }
}

/// The comparisons a Filter task can make against one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    LessThan,
    LessThanOrEqualTo,
    GreaterThan,
    GreaterThanOrEqualTo,
    EqualTo,
    NotEqualTo,
}

/// The condition of a row Filter task, values still as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterCondition {
    /// `field <op> VALUE`.
    Compare(Comparison, String),
    /// `LOWER_BOUND <= field <= UPPER_BOUND`.
    Between { lower: String, upper: String },
    /// The field's text contains `VALUE`.
    Contains(String),
    /// `EQUAL_TO` / `NOT_EQUAL_TO` with `VALUES`: the field equals one of
    /// the values (or none of them when `negate`).
    AnyOf { values: Vec<String>, negate: bool },
}

/// Which characters a Mask task replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaskMode {
    All,
    FirstN(usize),
    LastN(usize),
}

/// The four operations of an Arithmetic task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MathOperation {
    Addition,
    Subtraction,
    Multiplication,
    Division,
}

/// The checks of a Validate task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValidationCheck {
    NonNull,
    NonZero,
    NonNegative,
    Numeric,
}

impl ValidationCheck {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            ValidationCheck::NonNull => Operator::ValidateNonNull.as_str(),
            ValidationCheck::NonZero => Operator::ValidateNonZero.as_str(),
            ValidationCheck::NonNegative => Operator::ValidateNonNegative.as_str(),
            ValidationCheck::Numeric => Operator::ValidateNumeric.as_str(),
        }
    }
}

/// One piece of a `CONCAT_FORMAT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConcatPiece {
    Literal(String),
    Field(String),
}

/// A destination type named by `DESTINATION_DATA_TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedType {
    /// The name as written (used in error messages).
    pub(crate) name: String,
    pub(crate) data_type: DataType,
}

/// A task read from the wire, typed, with its own values checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TaskSpec {
    Projection {
        fields: Vec<String>,
    },
    Filter {
        field: String,
        condition: FilterCondition,
        data_type: Option<NamedType>,
    },
    Map {
        source: String,
        destination: String,
        destination_type: Option<NamedType>,
    },
    MapAll {
        listed: Vec<String>,
        excluded: Vec<String>,
        include_new_fields: bool,
    },
    Mask {
        field: String,
        mode: MaskMode,
        mask_char: char,
    },
    Truncate {
        field: String,
        length: usize,
    },
    Merge {
        sources: Vec<String>,
        destination: String,
        pieces: Vec<ConcatPiece>,
        destination_type: Option<NamedType>,
    },
    Arithmetic {
        operation: MathOperation,
        operands: Vec<String>,
        destination: String,
        destination_type: Option<NamedType>,
    },
    Validate {
        field: String,
        check: ValidationCheck,
        action: ValidationAction,
    },
    Passthrough {
        fields: Vec<String>,
        destination: Option<String>,
    },
    Partition {
        keys: Vec<String>,
    },
}

/// Problems found, each with the zero-based index of its task
/// (`usize::MAX` for problems of the task list as a whole).
#[derive(Debug, Default)]
pub(crate) struct Findings {
    found: Vec<(usize, String)>,
}

impl Findings {
    pub(crate) fn push(&mut self, index: usize, message: String) {
        self.found.push((index, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The problems in task order (in the order found within a task).
    pub(crate) fn into_problems(mut self) -> ValidationProblems {
        self.found.sort_by_key(|(index, _)| *index);
        let mut problems = ValidationProblems::new();
        for (_, message) in self.found {
            problems.push(message);
        }
        problems
    }
}

/// Reads every task; `None` marks a task with problems, which are added to
/// `findings`.
pub(crate) fn read_tasks(tasks: &[Task], findings: &mut Findings) -> Vec<Option<TaskSpec>> {
    tasks.iter().enumerate().map(|(index, task)| TaskReader::new(index, task, findings).read()).collect()
}

/// The path of the task at `index` (zero-based) in problem messages.
pub(crate) fn task_path(index: usize) -> String {
    format!("tasks.{}.member", index + 1)
}

/// The operator set in any member of a `ConnectorOperator`. All members
/// share the operator names, so the member does not matter here (the model
/// checks decide which member a flow must use).
fn operator_of(connector_operator: &ConnectorOperator) -> Result<Option<Operator>, String> {
    let value = serde_json::to_value(connector_operator).map_err(|error| error.to_string())?;
    let serde_json::Value::Object(members) = value else {
        return Ok(None);
    };
    let mut names: Vec<String> = Vec::new();
    for (_, member) in members {
        if let serde_json::Value::String(name) = member {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    match names.as_slice() {
        [] => Ok(None),
        [name] => Operator::from_wire(name).map(Some).ok_or_else(|| format!("'{name}' is not a known operator")),
        several => Err(format!("sets different operators in several members: {}", several.join(", "))),
    }
}

/// Operators each task type accepts; the first slice is for tasks whose
/// operator is required.
fn allowed_operators(task_type: TaskType) -> (&'static [Operator], bool) {
    match task_type {
        TaskType::Filter => (
            &[
                Operator::Projection,
                Operator::LessThan,
                Operator::GreaterThan,
                Operator::Contains,
                Operator::Between,
                Operator::LessThanOrEqualTo,
                Operator::GreaterThanOrEqualTo,
                Operator::EqualTo,
                Operator::NotEqualTo,
            ],
            true,
        ),
        TaskType::Validate => (
            &[
                Operator::ValidateNonNull,
                Operator::ValidateNonZero,
                Operator::ValidateNonNegative,
                Operator::ValidateNumeric,
            ],
            true,
        ),
        TaskType::Arithmetic => {
            (&[Operator::Addition, Operator::Subtraction, Operator::Multiplication, Operator::Division], true)
        }
        TaskType::Mask => (&[Operator::MaskAll, Operator::MaskFirstN, Operator::MaskLastN], true),
        TaskType::Map
        | TaskType::MapAll
        | TaskType::Merge
        | TaskType::Passthrough
        | TaskType::Truncate
        | TaskType::Partition => (&[Operator::NoOp], false),
    }
}

/// Property keys a task may carry beside the type annotations every task may
/// have (`SOURCE_DATA_TYPE`, `DESTINATION_DATA_TYPE`).
fn allowed_keys(task_type: TaskType, operator: Option<Operator>) -> &'static [Key] {
    match (task_type, operator) {
        (TaskType::Filter, Some(Operator::Projection)) => &[Key::DataType],
        (TaskType::Filter, Some(Operator::Between)) => &[Key::DataType, Key::LowerBound, Key::UpperBound],
        (TaskType::Filter, Some(Operator::EqualTo | Operator::NotEqualTo)) => &[Key::DataType, Key::Value, Key::Values],
        (TaskType::Filter, _) => &[Key::DataType, Key::Value],
        (TaskType::MapAll, _) => &[Key::ExcludeSourceFieldsList, Key::IncludeNewFields],
        (TaskType::Mask, Some(Operator::MaskAll)) => &[Key::MaskValue],
        (TaskType::Mask, _) => &[Key::MaskValue, Key::MaskLength],
        (TaskType::Truncate, _) => &[Key::TruncateLength],
        (TaskType::Merge, _) => &[Key::ConcatFormat],
        (TaskType::Arithmetic, _) => &[Key::MathOperationFieldsOrder],
        (TaskType::Validate, _) => &[Key::ValidationAction],
        (TaskType::Partition, _) => &[Key::OrderedPartitionKeysList],
        (TaskType::Map | TaskType::Passthrough, _) => &[],
    }
}

/// Splits a list-valued property: a JSON array of strings (`["a","b"]`) or
/// a comma-separated list (`a, b`). An empty list is refused unless
/// `allow_empty`.
pub(crate) fn parse_list(text: &str, allow_empty: bool) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    let items: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|error| format!("is not a JSON array of strings ({error})"))?
    } else {
        trimmed.split(',').map(|item| item.trim().to_string()).collect()
    };
    if items.is_empty() && !allow_empty {
        return Err("is an empty list".to_string());
    }
    if items.iter().any(String::is_empty) {
        return Err("has an empty entry".to_string());
    }
    Ok(items)
}

/// Parses a `CONCAT_FORMAT`: literal text with `${fieldName}` placeholders.
pub(crate) fn parse_concat_format(format: &str) -> Result<Vec<ConcatPiece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            let opened_at = format.len() - rest.len() + start;
            return Err(format!(
                "has a '${{' without a closing '}}' at character {}",
                format[..opened_at].chars().count()
            ));
        };
        let name = &after[..end];
        if name.is_empty() {
            return Err("has an empty placeholder '${}'".to_string());
        }
        if !literal.is_empty() {
            pieces.push(ConcatPiece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(ConcatPiece::Field(name.to_string()));
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(ConcatPiece::Literal(literal));
    }
    Ok(pieces)
}

struct TaskReader<'a> {
    index: usize,
    path: String,
    task: &'a Task,
    findings: &'a mut Findings,
    properties: BTreeMap<Key, String>,
    ok: bool,
}

impl<'a> TaskReader<'a> {
    fn new(index: usize, task: &'a Task, findings: &'a mut Findings) -> Self {
        let properties = task.task_properties.clone().unwrap_or_default();
        TaskReader { index, path: task_path(index), task, findings, properties, ok: true }
    }

    fn problem(&mut self, message: String) {
        self.findings.push(self.index, message);
        self.ok = false;
    }

    fn read(mut self) -> Option<TaskSpec> {
        let task_type = self.task.task_type;
        let operator = self.operator();
        self.check_keys(task_type, operator);
        self.check_type_annotations();
        let spec = match task_type {
            TaskType::Filter => operator.and_then(|operator| self.filter(operator)),
            TaskType::Map => self.map(),
            TaskType::MapAll => self.map_all(),
            TaskType::Mask => operator.and_then(|operator| self.mask(operator)),
            TaskType::Truncate => self.truncate(),
            TaskType::Merge => self.merge(),
            TaskType::Arithmetic => operator.and_then(|operator| self.arithmetic(operator)),
            TaskType::Validate => operator.and_then(|operator| self.validate(operator)),
            TaskType::Passthrough => self.passthrough(),
            TaskType::Partition => self.partition(),
        };
        if self.ok {
            spec
        } else {
            None
        }
    }

    /// The operator, checked against the task type. `None` when missing or
    /// not allowed (a problem is recorded when it is required).
    fn operator(&mut self) -> Option<Operator> {
        let task_type = self.task.task_type;
        let (allowed, required) = allowed_operators(task_type);
        let operator = match self.task.connector_operator.as_ref().map(operator_of) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(operator))) => Some(operator),
            Some(Err(reason)) => {
                let message = format!("{}.connectorOperator {reason}", self.path);
                self.problem(message);
                return None;
            }
        };
        match operator {
            None if required => {
                let message = format!("{}: a {task_type} task needs a connectorOperator", self.path);
                self.problem(message);
                None
            }
            None => None,
            Some(operator) if allowed.contains(&operator) => Some(operator),
            Some(operator) => {
                let names: Vec<&str> = allowed.iter().map(Operator::as_str).collect();
                let message = format!(
                    "{}.connectorOperator: {} is not an operator of a {task_type} task; use one of {}",
                    self.path,
                    operator.as_str(),
                    names.join(", ")
                );
                self.problem(message);
                None
            }
        }
    }

    fn check_keys(&mut self, task_type: TaskType, operator: Option<Operator>) {
        let allowed = allowed_keys(task_type, operator);
        let keys: Vec<Key> = self.properties.keys().copied().collect();
        for key in keys {
            if matches!(key, Key::SourceDataType | Key::DestinationDataType) || allowed.contains(&key) {
                continue;
            }
            let message = if key == Key::SubfieldCategoryMap {
                format!("{}.taskProperties.{}: Sluice does not support this property", self.path, key.as_str())
            } else {
                let what = match operator {
                    Some(operator) => format!("a {task_type} task with operator {}", operator.as_str()),
                    None => format!("a {task_type} task"),
                };
                format!("{}.taskProperties.{} does not apply to {what}", self.path, key.as_str())
            };
            self.problem(message);
        }
    }

    /// `SOURCE_DATA_TYPE`, `DESTINATION_DATA_TYPE` and `DATA_TYPE` must name
    /// a known type wherever they appear.
    fn check_type_annotations(&mut self) {
        for key in [Key::SourceDataType, Key::DestinationDataType, Key::DataType] {
            if let Some(name) = self.properties.get(&key).cloned() {
                if arrow_type_for(&name).is_none() {
                    let message = format!(
                        "{}.taskProperties.{}: '{name}' is not a data type Sluice knows",
                        self.path,
                        key.as_str()
                    );
                    self.problem(message);
                }
            }
        }
    }

    fn named_type(&self, key: Key) -> Option<NamedType> {
        let name = self.properties.get(&key)?;
        arrow_type_for(name).map(|data_type| NamedType { name: name.clone(), data_type })
    }

    fn required(&mut self, key: Key, what: &str) -> Option<String> {
        match self.properties.get(&key) {
            Some(value) => Some(value.clone()),
            None => {
                let message = format!("{}.taskProperties: {what} needs {}", self.path, key.as_str());
                self.problem(message);
                None
            }
        }
    }

    fn source_count(&mut self, what: &str, rule: Count) -> bool {
        let found = self.task.source_fields.len();
        let fits = match rule {
            Count::Exactly(n) => found == n,
            Count::AtLeast(n) => found >= n,
        };
        if !fits {
            let expected = match rule {
                Count::Exactly(1) => "exactly one source field".to_string(),
                Count::Exactly(n) => format!("exactly {n} source fields"),
                Count::AtLeast(1) => "at least one source field".to_string(),
                Count::AtLeast(n) => format!("at least {n} source fields"),
            };
            let message = format!("{}: {what} takes {expected}, found {found}", self.path);
            self.problem(message);
        }
        if let Some(position) = self.task.source_fields.iter().position(String::is_empty) {
            let message = format!("{}.sourceFields.{}: a field name cannot be empty", self.path, position + 1);
            self.problem(message);
            return false;
        }
        fits
    }

    fn destination(&mut self, what: &str) -> Option<String> {
        match self.task.destination_field.as_deref() {
            Some(name) if !name.is_empty() => Some(name.to_string()),
            _ => {
                let message = format!("{}: {what} needs a destinationField", self.path);
                self.problem(message);
                None
            }
        }
    }

    fn single_source(&self) -> String {
        self.task.source_fields.first().cloned().unwrap_or_default()
    }

    fn whole_number(&mut self, key: Key, text: &str) -> Option<usize> {
        match text.trim().parse::<usize>() {
            Ok(number) => Some(number),
            Err(_) => {
                let message = format!(
                    "{}.taskProperties.{} must be a whole number of 0 or more, found '{text}'",
                    self.path,
                    key.as_str()
                );
                self.problem(message);
                None
            }
        }
    }

    fn list(&mut self, key: Key, text: &str) -> Option<Vec<String>> {
        match parse_list(text, key == Key::ExcludeSourceFieldsList) {
            Ok(items) => Some(items),
            Err(reason) => {
                let message = format!("{}.taskProperties.{} {reason}", self.path, key.as_str());
                self.problem(message);
                None
            }
        }
    }

    fn filter(&mut self, operator: Operator) -> Option<TaskSpec> {
        let what = format!("a Filter task with operator {}", operator.as_str());
        if operator == Operator::Projection {
            let fits = self.source_count(&what, Count::AtLeast(1));
            return fits.then(|| TaskSpec::Projection { fields: self.task.source_fields.clone() });
        }
        let fits = self.source_count(&what, Count::Exactly(1));
        let data_type = self.named_type(Key::DataType);
        let condition = match operator {
            Operator::Between => {
                let lower = self.required(Key::LowerBound, &what);
                let upper = self.required(Key::UpperBound, &what);
                FilterCondition::Between { lower: lower?, upper: upper? }
            }
            Operator::EqualTo | Operator::NotEqualTo => {
                let value = self.properties.get(&Key::Value).cloned();
                let values = self.properties.get(&Key::Values).cloned();
                let comparison =
                    if operator == Operator::EqualTo { Comparison::EqualTo } else { Comparison::NotEqualTo };
                match (value, values) {
                    (Some(value), None) => FilterCondition::Compare(comparison, value),
                    (None, Some(values)) => {
                        let values = self.list(Key::Values, &values)?;
                        FilterCondition::AnyOf { values, negate: operator == Operator::NotEqualTo }
                    }
                    (Some(_), Some(_)) => {
                        let message = format!("{}.taskProperties: {what} takes VALUE or VALUES, not both", self.path);
                        self.problem(message);
                        return None;
                    }
                    (None, None) => {
                        let message = format!("{}.taskProperties: {what} needs VALUE or VALUES", self.path);
                        self.problem(message);
                        return None;
                    }
                }
            }
            Operator::Contains => FilterCondition::Contains(self.required(Key::Value, &what)?),
            other => {
                let comparison = match other {
                    Operator::LessThan => Comparison::LessThan,
                    Operator::LessThanOrEqualTo => Comparison::LessThanOrEqualTo,
                    Operator::GreaterThan => Comparison::GreaterThan,
                    _ => Comparison::GreaterThanOrEqualTo,
                };
                FilterCondition::Compare(comparison, self.required(Key::Value, &what)?)
            }
        };
        fits.then(|| TaskSpec::Filter { field: self.single_source(), condition, data_type })
    }

    fn map(&mut self) -> Option<TaskSpec> {
        let fits = self.source_count("a Map task", Count::Exactly(1));
        let destination = self.destination("a Map task");
        let destination_type = self.named_type(Key::DestinationDataType);
        if !fits {
            return None;
        }
        Some(TaskSpec::Map { source: self.single_source(), destination: destination?, destination_type })
    }

    fn map_all(&mut self) -> Option<TaskSpec> {
        let excluded = match self.properties.get(&Key::ExcludeSourceFieldsList).cloned() {
            Some(text) => self.list(Key::ExcludeSourceFieldsList, &text)?,
            None => Vec::new(),
        };
        let include_new_fields =
            match self.properties.get(&Key::IncludeNewFields).map(|v| v.trim().to_ascii_lowercase()) {
                None => false,
                Some(value) if value == "true" => true,
                Some(value) if value == "false" => false,
                Some(value) => {
                    let message = format!(
                        "{}.taskProperties.INCLUDE_NEW_FIELDS must be true or false, found '{value}'",
                        self.path
                    );
                    self.problem(message);
                    return None;
                }
            };
        if let Some(position) = self.task.source_fields.iter().position(String::is_empty) {
            let message = format!("{}.sourceFields.{}: a field name cannot be empty", self.path, position + 1);
            self.problem(message);
            return None;
        }
        Some(TaskSpec::MapAll { listed: self.task.source_fields.clone(), excluded, include_new_fields })
    }

    fn mask(&mut self, operator: Operator) -> Option<TaskSpec> {
        let what = format!("a Mask task with operator {}", operator.as_str());
        let fits = self.source_count(&what, Count::Exactly(1));
        let mask_char = self.required(Key::MaskValue, &what).and_then(|value| self.mask_char(&value));
        let mode = match operator {
            Operator::MaskFirstN | Operator::MaskLastN => {
                let text = self.required(Key::MaskLength, &what);
                let length = text.and_then(|text| self.whole_number(Key::MaskLength, &text));
                match operator {
                    Operator::MaskFirstN => length.map(MaskMode::FirstN),
                    _ => length.map(MaskMode::LastN),
                }
            }
            _ => Some(MaskMode::All),
        };
        if !fits {
            return None;
        }
        Some(TaskSpec::Mask { field: self.single_source(), mode: mode?, mask_char: mask_char? })
    }

    fn mask_char(&mut self, mask_value: &str) -> Option<char> {
        let mut chars = mask_value.chars();
        match (chars.next(), chars.next()) {
            (Some(mask_char), None) => Some(mask_char),
            _ => {
                let message = format!(
                    "{}.taskProperties.MASK_VALUE must be exactly one character, found '{mask_value}'",
                    self.path
                );
                self.problem(message);
                None
            }
        }
    }

    fn truncate(&mut self) -> Option<TaskSpec> {
        let fits = self.source_count("a Truncate task", Count::Exactly(1));
        let text = self.required(Key::TruncateLength, "a Truncate task")?;
        let length = self.whole_number(Key::TruncateLength, &text)?;
        fits.then(|| TaskSpec::Truncate { field: self.single_source(), length })
    }

    fn merge(&mut self) -> Option<TaskSpec> {
        let fits = self.source_count("a Merge task", Count::AtLeast(1));
        let destination = self.destination("a Merge task");
        let destination_type = self.named_type(Key::DestinationDataType);
        let sources = self.task.source_fields.clone();
        let pieces = match self.properties.get(&Key::ConcatFormat).cloned() {
            Some(format) => match parse_concat_format(&format) {
                Ok(pieces) => pieces,
                Err(reason) => {
                    let message = format!("{}.taskProperties.CONCAT_FORMAT {reason}", self.path);
                    self.problem(message);
                    return None;
                }
            },
            None => sources.iter().cloned().map(ConcatPiece::Field).collect(),
        };
        for piece in &pieces {
            if let ConcatPiece::Field(name) = piece {
                if !sources.contains(name) {
                    let message = format!(
                        "{}.taskProperties.CONCAT_FORMAT: placeholder '${{{name}}}' is not one of the task's sourceFields",
                        self.path
                    );
                    self.problem(message);
                }
            }
        }
        if !fits {
            return None;
        }
        Some(TaskSpec::Merge { sources, destination: destination?, pieces, destination_type })
    }

    fn arithmetic(&mut self, operator: Operator) -> Option<TaskSpec> {
        let what = format!("an Arithmetic task with operator {}", operator.as_str());
        let fits = self.source_count(&what, Count::AtLeast(2));
        let destination = self.destination("an Arithmetic task");
        let destination_type = self.named_type(Key::DestinationDataType);
        let order = self.required(Key::MathOperationFieldsOrder, &what)?;
        let operands = self.list(Key::MathOperationFieldsOrder, &order)?;
        let mut listed = operands.clone();
        let mut sources = self.task.source_fields.clone();
        listed.sort();
        sources.sort();
        if listed != sources {
            let message = format!(
                "{}.taskProperties.MATH_OPERATION_FIELDS_ORDER must list each of the sourceFields once, found [{}] for sourceFields [{}]",
                self.path,
                operands.join(", "),
                self.task.source_fields.join(", ")
            );
            self.problem(message);
            return None;
        }
        let operation = match operator {
            Operator::Addition => MathOperation::Addition,
            Operator::Subtraction => MathOperation::Subtraction,
            Operator::Multiplication => MathOperation::Multiplication,
            _ => MathOperation::Division,
        };
        if !fits {
            return None;
        }
        Some(TaskSpec::Arithmetic { operation, operands, destination: destination?, destination_type })
    }

    fn validate(&mut self, operator: Operator) -> Option<TaskSpec> {
        let what = format!("a Validate task with operator {}", operator.as_str());
        let fits = self.source_count(&what, Count::Exactly(1));
        let action = match self.required(Key::ValidationAction, &what)?.as_str() {
            "DropRecord" => ValidationAction::DropRecord,
            "TerminateFlow" => ValidationAction::TerminateFlow,
            other => {
                let message = format!(
                    "{}.taskProperties.VALIDATION_ACTION must be DropRecord or TerminateFlow, found '{other}'",
                    self.path
                );
                self.problem(message);
                return None;
            }
        };
        let check = match operator {
            Operator::ValidateNonNull => ValidationCheck::NonNull,
            Operator::ValidateNonZero => ValidationCheck::NonZero,
            Operator::ValidateNonNegative => ValidationCheck::NonNegative,
            _ => ValidationCheck::Numeric,
        };
        fits.then(|| TaskSpec::Validate { field: self.single_source(), check, action })
    }

    fn passthrough(&mut self) -> Option<TaskSpec> {
        let fits = self.source_count("a Passthrough task", Count::AtLeast(1));
        let destination = self.task.destination_field.clone().filter(|name| !name.is_empty());
        if destination.is_some() && self.task.source_fields.len() > 1 {
            let message = format!(
                "{}.destinationField: a Passthrough task with a destinationField takes exactly one source field, found {}",
                self.path,
                self.task.source_fields.len()
            );
            self.problem(message);
            return None;
        }
        fits.then(|| TaskSpec::Passthrough { fields: self.task.source_fields.clone(), destination })
    }

    fn partition(&mut self) -> Option<TaskSpec> {
        let text = self.required(Key::OrderedPartitionKeysList, "a Partition task")?;
        let keys = self.list(Key::OrderedPartitionKeysList, &text)?;
        Some(TaskSpec::Partition { keys })
    }
}

#[derive(Clone, Copy)]
enum Count {
    Exactly(usize),
    AtLeast(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_as_json_arrays_or_commas() {
        assert_eq!(parse_list(r#"["a","b c"]"#, false), Ok(vec!["a".to_string(), "b c".to_string()]));
        assert_eq!(parse_list("a, b ,c", false), Ok(vec!["a".to_string(), "b".to_string(), "c".to_string()]));
        assert_eq!(parse_list("a,,b", false), Err("has an empty entry".to_string()));
        assert_eq!(parse_list(r#"[""]"#, false), Err("has an empty entry".to_string()));
        assert_eq!(parse_list("[]", false), Err("is an empty list".to_string()));
        assert_eq!(parse_list("[]", true), Ok(Vec::new()));
        assert!(parse_list("[1, 2]", false).is_err());
    }

    #[test]
    fn concat_formats_split_into_literals_and_fields() {
        assert_eq!(
            parse_concat_format("${First} ${Last}!"),
            Ok(vec![
                ConcatPiece::Field("First".to_string()),
                ConcatPiece::Literal(" ".to_string()),
                ConcatPiece::Field("Last".to_string()),
                ConcatPiece::Literal("!".to_string()),
            ])
        );
        assert_eq!(parse_concat_format("cost: $5"), Ok(vec![ConcatPiece::Literal("cost: $5".to_string())]));
        assert_eq!(parse_concat_format("${A"), Err("has a '${' without a closing '}' at character 0".to_string()));
        assert_eq!(parse_concat_format("x${}"), Err("has an empty placeholder '${}'".to_string()));
    }
}
