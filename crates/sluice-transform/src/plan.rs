//! Second phase of compiling tasks: binding the typed specs to the source
//! schema. This resolves field names and types, parses comparison values
//! into Arrow scalars and decides the output field set.
//!
//! The output field set follows AppFlow: the fields of the `PROJECTION`
//! Filter task (each under its own name unless a Map task maps it), the
//! fields of a Map_all task, and the destination fields of Map, Merge,
//! Arithmetic and Passthrough tasks. A field that only a row Filter or a
//! Validate task reads is not in the output.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, StringArray, TimestampMillisecondArray};
use arrow_cast::{can_cast_types, cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sluice_model::appflow::Task;
use sluice_model::ValidationProblems;

use crate::data_type::{is_integer, is_string, is_temporal, UTC};
use crate::error::TransformError;
use crate::spec::{
    read_tasks, task_path, Comparison, ConcatPiece, FilterCondition, Findings, MaskMode, MathOperation, NamedType,
    TaskSpec, ValidationAction, ValidationCheck,
};

/// A row Filter task, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct FilterStep {
    /// The source field compared.
    pub(crate) field: String,
    /// The type both sides are compared in; the column is cast to it.
    pub(crate) compare_type: DataType,
    pub(crate) predicate: Predicate,
}

/// A Filter condition with its values parsed into one-element arrays of
/// the comparison type.
#[derive(Debug, Clone)]
pub(crate) enum Predicate {
    Compare { comparison: Comparison, value: ArrayRef },
    Between { lower: ArrayRef, upper: ArrayRef },
    Contains { needle: String },
    AnyOf { values: Vec<ArrayRef>, negate: bool },
}

/// A Validate task, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct ValidationStep {
    /// One-based position in the task list.
    pub(crate) task: usize,
    pub(crate) field: String,
    pub(crate) check: ValidationCheck,
    pub(crate) action: ValidationAction,
}

/// A Mask or Truncate task: rewrites the value of a source field before the
/// outputs are built.
#[derive(Debug, Clone)]
pub(crate) struct EditStep {
    pub(crate) field: String,
    pub(crate) edit: Edit,
}

#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Mask { mode: MaskMode, mask_char: char },
    Truncate { length: usize },
}

/// A type conversion asked for by `DESTINATION_DATA_TYPE`.
#[derive(Debug, Clone)]
pub(crate) struct Conversion {
    pub(crate) target: DataType,
    /// The type as the task names it (for messages).
    pub(crate) name: String,
}

/// One column of the output batch.
#[derive(Debug, Clone)]
pub(crate) struct OutputColumn {
    pub(crate) name: String,
    pub(crate) data_type: DataType,
    pub(crate) source: OutputSource,
}

#[derive(Debug, Clone)]
pub(crate) enum OutputSource {
    /// A source field (after Mask/Truncate), possibly converted.
    Field { field: String, conversion: Option<Conversion> },
    /// A Merge task's concatenation.
    Merge { pieces: Vec<ConcatPiece>, conversion: Option<Conversion> },
    /// An Arithmetic task's result; operands are converted to `operand_type`
    /// (Int64 or Float64) first.
    Arithmetic {
        operation: MathOperation,
        operands: Vec<String>,
        operand_type: DataType,
        conversion: Option<Conversion>,
    },
}

/// A compiled, checked list of AppFlow tasks that can be applied to record
/// batches of the source schema it was compiled against.
///
/// Order of work in [`TaskPlan::apply`]: row Filter tasks (all must match),
/// then Validate tasks, then Mask and Truncate tasks (in task order) on the
/// source values, then the output columns.
#[derive(Debug, Clone)]
pub struct TaskPlan {
    pub(crate) filters: Vec<FilterStep>,
    pub(crate) validations: Vec<ValidationStep>,
    pub(crate) edits: Vec<EditStep>,
    pub(crate) outputs: Vec<OutputColumn>,
    output_schema: SchemaRef,
    source_fields: Vec<String>,
    partition_keys: Vec<String>,
}

/// Checks the tasks on their own, without a source schema: task types,
/// operators, required and applicable `taskProperties` keys and their
/// values, source field counts and destination fields. Use it where the
/// source schema is not at hand (CreateFlow); [`TaskPlan::compile`] runs
/// the same checks and the schema-dependent ones.
pub fn check_tasks(tasks: &[Task]) -> ValidationProblems {
    let mut findings = Findings::default();
    read_tasks(tasks, &mut findings);
    findings.into_problems()
}

impl TaskPlan {
    /// Compiles the tasks of a flow against the schema of its source
    /// records. Every problem is collected; the error is
    /// [`TransformError::InvalidTasks`] listing all of them, each prefixed
    /// with the task's path (`tasks.N.member`, one-based).
    pub fn compile(tasks: &[Task], source_schema: &Schema) -> Result<TaskPlan, TransformError> {
        let mut findings = Findings::default();
        let specs = read_tasks(tasks, &mut findings);
        let plan = Binder::new(source_schema, &mut findings).bind(&specs);
        findings.into_problems().into_result()?;
        Ok(plan)
    }

    /// The schema of the batches [`TaskPlan::apply`] produces.
    pub fn output_schema(&self) -> SchemaRef {
        self.output_schema.clone()
    }

    /// Every source field the plan reads, in order of first use. A source
    /// connector needs to fetch these (and only these).
    pub fn source_fields(&self) -> &[String] {
        &self.source_fields
    }

    /// The output fields named by the Partition task's
    /// `ORDERED_PARTITION_KEYS_LIST`, in order; empty without one.
    pub fn partition_keys(&self) -> &[String] {
        &self.partition_keys
    }
}

struct Binder<'a> {
    schema: &'a Schema,
    findings: &'a mut Findings,
    source_fields: Vec<String>,
}

/// An output column while the field set is assembled. Implicit columns
/// (from PROJECTION or Map_all) give way to an explicit task writing the
/// same name.
struct PendingColumn {
    column: OutputColumn,
    written_by: Option<usize>,
}

impl<'a> Binder<'a> {
    fn new(schema: &'a Schema, findings: &'a mut Findings) -> Self {
        Binder { schema, findings, source_fields: Vec::new() }
    }

    fn note_read(&mut self, field: &str) {
        if !self.source_fields.iter().any(|known| known == field) {
            self.source_fields.push(field.to_string());
        }
    }

    /// The type of a source field, recording a problem when it is missing.
    fn source_type(&mut self, index: usize, location: &str, field: &str) -> Option<DataType> {
        match self.schema.field_with_name(field) {
            Ok(found) => Some(found.data_type().clone()),
            Err(_) => {
                self.findings.push(
                    index,
                    format!("{}{location}: field '{field}' does not exist in the source", task_path(index)),
                );
                None
            }
        }
    }

    fn bind(mut self, specs: &[Option<TaskSpec>]) -> TaskPlan {
        let tasks: Vec<(usize, &TaskSpec)> =
            specs.iter().enumerate().filter_map(|(index, spec)| spec.as_ref().map(|spec| (index, spec))).collect();

        let mut filters = Vec::new();
        let mut validations = Vec::new();
        let mut edits = Vec::new();
        // Types of the source fields after Mask/Truncate, which make text.
        let mut working_types: HashMap<String, DataType> =
            self.schema.fields().iter().map(|field| (field.name().clone(), field.data_type().clone())).collect();

        for &(index, spec) in &tasks {
            match spec {
                TaskSpec::Filter { field, condition, data_type } => {
                    if let Some(step) = self.filter(index, field, condition, data_type.as_ref()) {
                        filters.push(step);
                    }
                }
                TaskSpec::Validate { field, check, action } => {
                    if let Some(source_type) = self.source_type(index, ".sourceFields", field) {
                        let numeric = can_cast_types(&source_type, &DataType::Float64) && !is_temporal(&source_type);
                        if *check != ValidationCheck::NonNull && !numeric {
                            self.findings.push(
                                index,
                                format!(
                                    "{}: {} cannot check field '{field}' of type {source_type}",
                                    task_path(index),
                                    check.as_str()
                                ),
                            );
                        }
                        self.note_read(field);
                        validations.push(ValidationStep {
                            task: index + 1,
                            field: field.clone(),
                            check: *check,
                            action: *action,
                        });
                    }
                }
                TaskSpec::Mask { field, mode, mask_char } => {
                    let edit = Edit::Mask { mode: *mode, mask_char: *mask_char };
                    self.edit(index, field, edit, &mut edits, &mut working_types);
                }
                TaskSpec::Truncate { field, length } => {
                    let edit = Edit::Truncate { length: *length };
                    self.edit(index, field, edit, &mut edits, &mut working_types);
                }
                _ => {}
            }
        }

        let outputs = self.outputs(&tasks, &working_types);
        let partition_keys = self.partition_keys(&tasks, &outputs);
        let output_schema = Arc::new(Schema::new(
            outputs
                .iter()
                .map(|column| Field::new(column.name.clone(), column.data_type.clone(), true))
                .collect::<Vec<_>>(),
        ));
        TaskPlan {
            filters,
            validations,
            edits,
            outputs,
            output_schema,
            source_fields: self.source_fields,
            partition_keys,
        }
    }

    /// Records a Mask or Truncate task. They work on text: the field must
    /// exist and convert to a string, and is a string from then on.
    fn edit(
        &mut self,
        index: usize,
        field: &str,
        edit: Edit,
        edits: &mut Vec<EditStep>,
        working_types: &mut HashMap<String, DataType>,
    ) {
        let Some(source_type) = self.source_type(index, ".sourceFields", field) else {
            return;
        };
        if !can_cast_types(&source_type, &DataType::Utf8) {
            let message = format!("{}: field '{field}' of type {source_type} cannot be read as text", task_path(index));
            self.findings.push(index, message);
            return;
        }
        self.note_read(field);
        edits.push(EditStep { field: field.to_string(), edit });
        working_types.insert(field.to_string(), DataType::Utf8);
    }

    fn filter(
        &mut self,
        index: usize,
        field: &str,
        condition: &FilterCondition,
        data_type: Option<&NamedType>,
    ) -> Option<FilterStep> {
        let source_type = self.source_type(index, ".sourceFields", field)?;
        self.note_read(field);
        let path = task_path(index);
        let mut compare_type = match (condition, data_type) {
            (FilterCondition::Contains(_), _) => DataType::Utf8,
            (_, Some(named)) => named.data_type.clone(),
            (_, None) => source_type.clone(),
        };
        if !can_cast_types(&source_type, &compare_type) {
            self.findings.push(
                index,
                format!("{path}: field '{field}' of type {source_type} cannot be compared as {compare_type}"),
            );
            return None;
        }
        // An integer field compared with a fractional value compares as a
        // double, so `Amount > 10.5` works on an integer column.
        let values: Vec<(&str, &str)> = match condition {
            FilterCondition::Compare(_, value) => vec![("VALUE", value.as_str())],
            FilterCondition::Between { lower, upper } => {
                vec![("LOWER_BOUND", lower.as_str()), ("UPPER_BOUND", upper.as_str())]
            }
            FilterCondition::Contains(_) => Vec::new(),
            FilterCondition::AnyOf { values, .. } => values.iter().map(|value| ("VALUES", value.as_str())).collect(),
        };
        if data_type.is_none()
            && is_integer(&compare_type)
            && values.iter().any(|(_, text)| parse_scalar(text, &compare_type).is_err())
            && values.iter().all(|(_, text)| parse_scalar(text, &DataType::Float64).is_ok())
        {
            compare_type = DataType::Float64;
        }
        let mut parse = |key: &str, text: &str| -> Option<ArrayRef> {
            match parse_scalar(text, &compare_type) {
                Ok(value) => Some(value),
                Err(reason) => {
                    self.findings.push(index, format!(
                        "{path}.taskProperties.{key}: '{text}' is not a valid {compare_type} value for field '{field}' ({reason})"
                    ));
                    None
                }
            }
        };
        let predicate = match condition {
            FilterCondition::Compare(comparison, value) => {
                Predicate::Compare { comparison: *comparison, value: parse("VALUE", value)? }
            }
            FilterCondition::Between { lower, upper } => {
                let lower = parse("LOWER_BOUND", lower);
                let upper = parse("UPPER_BOUND", upper);
                Predicate::Between { lower: lower?, upper: upper? }
            }
            FilterCondition::Contains(needle) => Predicate::Contains { needle: needle.clone() },
            FilterCondition::AnyOf { values, negate } => {
                let parsed: Vec<Option<ArrayRef>> = values.iter().map(|value| parse("VALUES", value)).collect();
                Predicate::AnyOf { values: parsed.into_iter().collect::<Option<Vec<_>>>()?, negate: *negate }
            }
        };
        Some(FilterStep { field: field.to_string(), compare_type, predicate })
    }

    fn conversion(
        &mut self,
        index: usize,
        what: &str,
        from: &DataType,
        named: Option<&NamedType>,
    ) -> Option<Option<Conversion>> {
        let Some(named) = named else {
            return Some(None);
        };
        if !can_cast_types(from, &named.data_type) {
            self.findings.push(
                index,
                format!(
                    "{}.taskProperties.DESTINATION_DATA_TYPE: {what} of type {from} cannot be converted to '{}'",
                    task_path(index),
                    named.name
                ),
            );
            return None;
        }
        Some(Some(Conversion { target: named.data_type.clone(), name: named.name.clone() }))
    }

    fn outputs(
        &mut self,
        tasks: &[(usize, &TaskSpec)],
        working_types: &HashMap<String, DataType>,
    ) -> Vec<OutputColumn> {
        // Fields a Map task reads: the PROJECTION does not output them under
        // their own name, the Map task decides where they go.
        let mapped: HashSet<&str> = tasks
            .iter()
            .filter_map(|(_, spec)| match spec {
                TaskSpec::Map { source, .. } => Some(source.as_str()),
                _ => None,
            })
            .collect();
        let mut pending: Vec<PendingColumn> = Vec::new();

        for &(index, spec) in tasks {
            match spec {
                TaskSpec::Projection { fields } => {
                    for field in fields {
                        let Some(data_type) = self.source_type(index, ".sourceFields", field) else { continue };
                        if mapped.contains(field.as_str()) {
                            continue;
                        }
                        let data_type = working_types.get(field).cloned().unwrap_or(data_type);
                        self.implicit(&mut pending, field, data_type);
                    }
                }
                TaskSpec::MapAll { listed, excluded, include_new_fields } => {
                    for field in excluded {
                        self.source_type(index, ".taskProperties.EXCLUDE_SOURCE_FIELDS_LIST", field);
                    }
                    let mut fields: Vec<String> = Vec::new();
                    for field in listed {
                        if self.source_type(index, ".sourceFields", field).is_some() {
                            fields.push(field.clone());
                        }
                    }
                    if listed.is_empty() || *include_new_fields {
                        for field in self.schema.fields() {
                            if !listed.contains(field.name()) {
                                fields.push(field.name().clone());
                            }
                        }
                    }
                    for field in fields.iter().filter(|field| !excluded.contains(field)) {
                        if let Some(data_type) = working_types.get(field).cloned() {
                            self.implicit(&mut pending, field, data_type);
                        }
                    }
                }
                TaskSpec::Map { source, destination, destination_type } => {
                    let Some(source_type) = self.source_type(index, ".sourceFields", source) else { continue };
                    let from = working_types.get(source).cloned().unwrap_or(source_type);
                    let what = format!("field '{source}'");
                    let Some(conversion) = self.conversion(index, &what, &from, destination_type.as_ref()) else {
                        continue;
                    };
                    self.note_read(source);
                    let data_type = conversion.as_ref().map_or(from, |conversion| conversion.target.clone());
                    let source = OutputSource::Field { field: source.clone(), conversion };
                    self.explicit(&mut pending, index, destination, data_type, source);
                }
                TaskSpec::Passthrough { fields, destination } => {
                    for field in fields {
                        let Some(source_type) = self.source_type(index, ".sourceFields", field) else { continue };
                        self.note_read(field);
                        let data_type = working_types.get(field).cloned().unwrap_or(source_type);
                        let name = destination.clone().unwrap_or_else(|| field.clone());
                        let source = OutputSource::Field { field: field.clone(), conversion: None };
                        self.explicit(&mut pending, index, &name, data_type, source);
                    }
                }
                TaskSpec::Merge { sources, destination, pieces, destination_type } => {
                    let mut usable = true;
                    for field in sources {
                        match self.source_type(index, ".sourceFields", field) {
                            Some(source_type) if can_cast_types(&source_type, &DataType::Utf8) => self.note_read(field),
                            Some(source_type) => {
                                self.findings.push(
                                    index,
                                    format!(
                                        "{}: field '{field}' of type {source_type} cannot be read as text",
                                        task_path(index)
                                    ),
                                );
                                usable = false;
                            }
                            None => usable = false,
                        }
                    }
                    let what = "the concatenated text";
                    let Some(conversion) = self.conversion(index, what, &DataType::Utf8, destination_type.as_ref())
                    else {
                        continue;
                    };
                    if !usable {
                        continue;
                    }
                    let data_type = conversion.as_ref().map_or(DataType::Utf8, |conversion| conversion.target.clone());
                    let source = OutputSource::Merge { pieces: pieces.clone(), conversion };
                    self.explicit(&mut pending, index, destination, data_type, source);
                }
                TaskSpec::Arithmetic { operation, operands, destination, destination_type } => {
                    let mut all_integers = true;
                    let mut usable = true;
                    for field in operands {
                        let Some(source_type) = self.source_type(index, ".sourceFields", field) else {
                            usable = false;
                            continue;
                        };
                        let working = working_types.get(field).cloned().unwrap_or(source_type);
                        if !can_cast_types(&working, &DataType::Float64) || is_temporal(&working) {
                            self.findings.push(
                                index,
                                format!("{}: field '{field}' of type {working} is not a number", task_path(index)),
                            );
                            usable = false;
                        }
                        all_integers &= is_integer(&working);
                        self.note_read(field);
                    }
                    let operand_type = if all_integers && *operation != MathOperation::Division {
                        DataType::Int64
                    } else {
                        DataType::Float64
                    };
                    let what = "the result";
                    let Some(conversion) = self.conversion(index, what, &operand_type, destination_type.as_ref())
                    else {
                        continue;
                    };
                    if !usable {
                        continue;
                    }
                    let data_type =
                        conversion.as_ref().map_or(operand_type.clone(), |conversion| conversion.target.clone());
                    let source = OutputSource::Arithmetic {
                        operation: *operation,
                        operands: operands.clone(),
                        operand_type,
                        conversion,
                    };
                    self.explicit(&mut pending, index, destination, data_type, source);
                }
                _ => {}
            }
        }
        if pending.is_empty() && self.findings.is_empty() {
            self.findings.push(
                usize::MAX,
                "tasks: no task selects an output field; add a Filter task with PROJECTION, a Map task or a Map_all task"
                    .to_string(),
            );
        }
        pending.into_iter().map(|pending| pending.column).collect()
    }

    fn implicit(&mut self, pending: &mut Vec<PendingColumn>, field: &str, data_type: DataType) {
        if pending.iter().any(|existing| existing.column.name == field) {
            return;
        }
        self.note_read(field);
        let source = OutputSource::Field { field: field.to_string(), conversion: None };
        pending.push(PendingColumn {
            column: OutputColumn { name: field.to_string(), data_type, source },
            written_by: None,
        });
    }

    fn explicit(
        &mut self,
        pending: &mut Vec<PendingColumn>,
        index: usize,
        name: &str,
        data_type: DataType,
        source: OutputSource,
    ) {
        let column = OutputColumn { name: name.to_string(), data_type, source };
        match pending.iter_mut().find(|existing| existing.column.name == name) {
            Some(existing) => match existing.written_by {
                Some(other) => self.findings.push(
                    index,
                    format!(
                        "{}.destinationField: '{name}' is already written by {}",
                        task_path(index),
                        task_path(other)
                    ),
                ),
                None => *existing = PendingColumn { column, written_by: Some(index) },
            },
            None => pending.push(PendingColumn { column, written_by: Some(index) }),
        }
    }

    fn partition_keys(&mut self, tasks: &[(usize, &TaskSpec)], outputs: &[OutputColumn]) -> Vec<String> {
        let mut partition_keys = Vec::new();
        let mut partition_task: Option<usize> = None;
        for &(index, spec) in tasks {
            let TaskSpec::Partition { keys } = spec else { continue };
            if let Some(first) = partition_task {
                self.findings.push(
                    index,
                    format!(
                        "{}: a flow takes one Partition task, {} is one already",
                        task_path(index),
                        task_path(first)
                    ),
                );
                continue;
            }
            partition_task = Some(index);
            for key in keys {
                if !outputs.iter().any(|column| &column.name == key) {
                    self.findings.push(
                        index,
                        format!(
                            "{}.taskProperties.ORDERED_PARTITION_KEYS_LIST: '{key}' is not an output field",
                            task_path(index)
                        ),
                    );
                }
            }
            partition_keys = keys.clone();
        }
        partition_keys
    }
}

/// Parses a Filter value into a one-element array of `data_type`. Dates and
/// datetimes accept ISO 8601 text or whole milliseconds since the epoch (the
/// form AppFlow uses for date filters).
pub(crate) fn parse_scalar(text: &str, data_type: &DataType) -> Result<ArrayRef, String> {
    let strict = CastOptions { safe: false, ..CastOptions::default() };
    let trimmed = text.trim();
    let is_epoch_millis = !trimmed.is_empty()
        && trimmed.strip_prefix('-').unwrap_or(trimmed).chars().all(|character| character.is_ascii_digit());
    let value: ArrayRef = if is_temporal(data_type) && is_epoch_millis {
        let millis: i64 = trimmed.parse().map_err(|error: std::num::ParseIntError| error.to_string())?;
        let instant = TimestampMillisecondArray::from(vec![millis]).with_timezone(UTC);
        cast_with_options(&instant, data_type, &strict).map_err(|error| error.to_string())?
    } else if is_string(data_type) {
        cast_with_options(&StringArray::from(vec![text]), data_type, &strict).map_err(|error| error.to_string())?
    } else {
        cast_with_options(&StringArray::from(vec![trimmed]), data_type, &strict).map_err(|error| error.to_string())?
    };
    if value.is_null(0) {
        return Err("not convertible".to_string());
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
