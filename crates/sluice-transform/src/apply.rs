//! Running a [`TaskPlan`] over one record batch with Arrow kernels.

use std::collections::HashMap;

use arrow_arith::boolean::{and, and_not, is_not_null, is_null, not, or, or_kleene};
use arrow_arith::numeric;
use arrow_array::cast::AsArray;
use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, RecordBatchOptions, Scalar, StringArray,
};
use arrow_cast::{cast_with_options, CastOptions};
use arrow_ord::cmp;
use arrow_schema::DataType;
use arrow_select::filter::filter_record_batch;
use arrow_select::nullif::nullif;
use arrow_string::like;
use arrow_string::substring::substring_by_char;

use crate::error::TransformError;
use crate::plan::{Conversion, Edit, FilterStep, OutputSource, Predicate, TaskPlan};
use crate::spec::{Comparison, ConcatPiece, MaskMode, MathOperation, ValidationAction, ValidationCheck};

/// Records a DropRecord validation left out of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationDrop {
    /// One-based position of the Validate task in the flow's task list.
    pub task: usize,
    /// The validated source field.
    pub field: String,
    /// The failed check as on the wire (`VALIDATE_NON_NULL`...).
    pub check: &'static str,
    /// Number of records the check dropped.
    pub rows: usize,
}

/// The result of applying a [`TaskPlan`] to one batch.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    /// The transformed records, with the plan's output schema.
    pub batch: RecordBatch,
    /// Records in the input batch.
    pub rows_in: usize,
    /// Records that did not match the row Filter tasks.
    pub rows_filtered: usize,
    /// Records dropped by Validate tasks with `DropRecord` (among those that
    /// matched the filters).
    pub rows_dropped: usize,
    /// The dropped records per Validate task, for tasks that dropped any.
    pub validation_drops: Vec<ValidationDrop>,
}

/// Maps a row of the filtered batch back to its row in the input batch.
struct RowMap<'a> {
    keep: Option<&'a BooleanArray>,
}

impl RowMap<'_> {
    fn input_row(&self, filtered_row: usize) -> usize {
        match self.keep {
            None => filtered_row,
            Some(keep) => keep.values().set_indices().nth(filtered_row).unwrap_or(filtered_row),
        }
    }
}

/// The same booleans with null read as false.
fn null_as_false(values: &BooleanArray) -> BooleanArray {
    match values.nulls() {
        Some(nulls) => BooleanArray::new(values.values() & nulls.inner(), None),
        None => values.clone(),
    }
}

fn safe_cast() -> CastOptions<'static> {
    CastOptions { safe: true, ..CastOptions::default() }
}

fn source_column<'a>(batch: &'a RecordBatch, field: &str) -> Result<&'a ArrayRef, TransformError> {
    batch.column_by_name(field).ok_or_else(|| TransformError::MissingField { field: field.to_string() })
}

/// Converts `array` to `target`, failing with the first row whose value
/// does not convert (a null stays null).
fn convert(
    array: &ArrayRef,
    target: &DataType,
    field: &str,
    target_name: &str,
    rows: &RowMap<'_>,
) -> Result<ArrayRef, TransformError> {
    if array.data_type() == target {
        return Ok(array.clone());
    }
    let converted = cast_with_options(array, target, &safe_cast())?;
    if converted.null_count() > array.null_count() {
        if let Some(row) = (0..array.len()).find(|&row| array.is_valid(row) && converted.is_null(row)) {
            return Err(TransformError::Conversion {
                field: field.to_string(),
                row: rows.input_row(row),
                target: target_name.to_string(),
            });
        }
    }
    Ok(converted)
}

/// The column as text (strings, numbers and dates all read as text).
fn as_text(array: &ArrayRef) -> Result<StringArray, TransformError> {
    let text = cast_with_options(array, &DataType::Utf8, &safe_cast())?;
    Ok(text.as_string::<i32>().clone())
}

fn evaluate_filter(step: &FilterStep, column: &ArrayRef) -> Result<BooleanArray, TransformError> {
    let column = if column.data_type() == &step.compare_type {
        column.clone()
    } else {
        cast_with_options(column, &step.compare_type, &safe_cast())?
    };
    let matches = match &step.predicate {
        Predicate::Compare { comparison, value } => {
            let value = Scalar::new(value.clone());
            match comparison {
                Comparison::LessThan => cmp::lt(&column, &value)?,
                Comparison::LessThanOrEqualTo => cmp::lt_eq(&column, &value)?,
                Comparison::GreaterThan => cmp::gt(&column, &value)?,
                Comparison::GreaterThanOrEqualTo => cmp::gt_eq(&column, &value)?,
                Comparison::EqualTo => cmp::eq(&column, &value)?,
                Comparison::NotEqualTo => cmp::neq(&column, &value)?,
            }
        }
        Predicate::Between { lower, upper } => {
            let above = cmp::gt_eq(&column, &Scalar::new(lower.clone()))?;
            let below = cmp::lt_eq(&column, &Scalar::new(upper.clone()))?;
            and(&above, &below)?
        }
        Predicate::Contains { needle } => {
            let needle = Scalar::new(StringArray::from(vec![needle.as_str()]));
            like::contains(&column, &needle)?
        }
        Predicate::AnyOf { values, negate } => {
            let mut any = BooleanArray::from(vec![false; column.len()]);
            for value in values {
                let equal = cmp::eq(&column, &Scalar::new(value.clone()))?;
                any = or_kleene(&any, &equal)?;
            }
            if *negate {
                not(&any)?
            } else {
                any
            }
        }
    };
    // A null comparison (null value) does not match.
    Ok(null_as_false(&matches))
}

/// True where the record fails the check.
fn validation_failures(check: ValidationCheck, column: &ArrayRef) -> Result<BooleanArray, TransformError> {
    if check == ValidationCheck::NonNull {
        return Ok(is_null(column)?);
    }
    let numbers = cast_with_options(column, &DataType::Float64, &safe_cast())?;
    let not_numeric = and(&is_not_null(column)?, &is_null(&numbers)?)?;
    let zero = Float64Array::new_scalar(0.0);
    let failures = match check {
        ValidationCheck::NonZero => or(&not_numeric, &null_as_false(&cmp::eq(&numbers, &zero)?))?,
        ValidationCheck::NonNegative => or(&not_numeric, &null_as_false(&cmp::lt(&numbers, &zero)?))?,
        _ => not_numeric,
    };
    Ok(null_as_false(&failures))
}

fn mask_text(text: &str, mode: MaskMode, mask_char: char) -> String {
    let length = text.chars().count();
    let (from, to) = match mode {
        MaskMode::All => (0, length),
        MaskMode::FirstN(count) => (0, count.min(length)),
        MaskMode::LastN(count) => (length - count.min(length), length),
    };
    text.chars()
        .enumerate()
        .map(|(position, character)| if position >= from && position < to { mask_char } else { character })
        .collect()
}

fn apply_edit(edit: &Edit, column: &ArrayRef) -> Result<ArrayRef, TransformError> {
    let text = as_text(column)?;
    let edited: StringArray = match edit {
        Edit::Mask { mode, mask_char } => {
            text.iter().map(|value| value.map(|value| mask_text(value, *mode, *mask_char))).collect()
        }
        Edit::Truncate { length } => substring_by_char(&text, 0, Some(*length as u64))?,
    };
    Ok(std::sync::Arc::new(edited))
}

/// Source columns after Mask/Truncate.
struct WorkingColumns<'a> {
    batch: &'a RecordBatch,
    edited: HashMap<&'a str, ArrayRef>,
}

impl<'a> WorkingColumns<'a> {
    fn get(&self, field: &str) -> Result<ArrayRef, TransformError> {
        match self.edited.get(field) {
            Some(column) => Ok(column.clone()),
            None => source_column(self.batch, field).cloned(),
        }
    }
}

fn merge(pieces: &[ConcatPiece], columns: &WorkingColumns<'_>, rows: usize) -> Result<ArrayRef, TransformError> {
    let mut texts: HashMap<&str, StringArray> = HashMap::new();
    for piece in pieces {
        if let ConcatPiece::Field(field) = piece {
            if !texts.contains_key(field.as_str()) {
                texts.insert(field.as_str(), as_text(&columns.get(field)?)?);
            }
        }
    }
    let mut value = String::new();
    let merged: StringArray = (0..rows)
        .map(|row| {
            value.clear();
            for piece in pieces {
                match piece {
                    ConcatPiece::Literal(literal) => value.push_str(literal),
                    ConcatPiece::Field(field) => {
                        if let Some(text) = texts.get(field.as_str()).filter(|text| text.is_valid(row)) {
                            value.push_str(text.value(row));
                        }
                    }
                }
            }
            Some(value.clone())
        })
        .collect();
    Ok(std::sync::Arc::new(merged))
}

fn arithmetic(
    operation: MathOperation,
    operands: &[String],
    operand_type: &DataType,
    columns: &WorkingColumns<'_>,
    rows: &RowMap<'_>,
) -> Result<ArrayRef, TransformError> {
    let type_name = operand_type.to_string();
    let mut values = Vec::with_capacity(operands.len());
    for field in operands {
        values.push(convert(&columns.get(field)?, operand_type, field, &type_name, rows)?);
    }
    let mut values = values.into_iter();
    let Some(mut result) = values.next() else {
        return Ok(new_null_array(operand_type, columns.batch.num_rows()));
    };
    for value in values {
        result = match operation {
            MathOperation::Addition => numeric::add(&result, &value)?,
            MathOperation::Subtraction => numeric::sub(&result, &value)?,
            MathOperation::Multiplication => numeric::mul(&result, &value)?,
            MathOperation::Division => {
                // Division by zero gives null rather than infinity.
                let zero = Float64Array::new_scalar(0.0);
                let divisor = nullif(&value, &cmp::eq(&value, &zero)?)?;
                numeric::div(&result, &divisor)?
            }
        };
    }
    Ok(result)
}

fn convert_output(
    array: ArrayRef,
    conversion: Option<&Conversion>,
    field: &str,
    rows: &RowMap<'_>,
) -> Result<ArrayRef, TransformError> {
    match conversion {
        Some(conversion) => convert(&array, &conversion.target, field, &conversion.name, rows),
        None => Ok(array),
    }
}

impl TaskPlan {
    /// Applies the plan to one batch of source records: keeps the records
    /// that match every row Filter task, checks the Validate tasks (dropping
    /// and counting failures for `DropRecord`, failing for `TerminateFlow`),
    /// masks and truncates, and builds the output columns.
    ///
    /// Rows named in errors are zero-based rows of `batch`.
    pub fn apply(&self, batch: RecordBatch) -> Result<TaskOutput, TransformError> {
        let rows_in = batch.num_rows();
        let mut keep: Option<BooleanArray> = None;
        for step in &self.filters {
            let matches = evaluate_filter(step, source_column(&batch, &step.field)?)?;
            keep = Some(match keep {
                None => matches,
                Some(kept) => and(&kept, &matches)?,
            });
        }
        let rows_matching = keep.as_ref().map_or(rows_in, BooleanArray::true_count);

        let mut validation_drops = Vec::new();
        for step in &self.validations {
            let failures = validation_failures(step.check, source_column(&batch, &step.field)?)?;
            let failures = match &keep {
                None => failures,
                Some(kept) => and(&failures, kept)?,
            };
            let failed = failures.true_count();
            if failed == 0 {
                continue;
            }
            match step.action {
                ValidationAction::TerminateFlow => {
                    let row = failures.values().set_indices().next().unwrap_or(0);
                    return Err(TransformError::ValidationFailed {
                        task: step.task,
                        field: step.field.clone(),
                        check: step.check.as_str(),
                        row,
                    });
                }
                ValidationAction::DropRecord => {
                    keep = Some(match keep {
                        None => not(&failures)?,
                        Some(kept) => and_not(&kept, &failures)?,
                    });
                    validation_drops.push(ValidationDrop {
                        task: step.task,
                        field: step.field.clone(),
                        check: step.check.as_str(),
                        rows: failed,
                    });
                }
            }
        }
        let rows_dropped = validation_drops.iter().map(|drop| drop.rows).sum();

        let kept_batch = match &keep {
            Some(kept) if kept.true_count() < rows_in => filter_record_batch(&batch, kept)?,
            _ => batch,
        };
        let rows = kept_batch.num_rows();
        let row_map = RowMap { keep: keep.as_ref() };

        let mut columns = WorkingColumns { batch: &kept_batch, edited: HashMap::new() };
        for step in &self.edits {
            let edited = apply_edit(&step.edit, &columns.get(&step.field)?)?;
            columns.edited.insert(step.field.as_str(), edited);
        }

        let mut arrays = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            let array = match &output.source {
                OutputSource::Field { field, conversion } => {
                    convert_output(columns.get(field)?, conversion.as_ref(), field, &row_map)?
                }
                OutputSource::Merge { pieces, conversion } => {
                    convert_output(merge(pieces, &columns, rows)?, conversion.as_ref(), &output.name, &row_map)?
                }
                OutputSource::Arithmetic { operation, operands, operand_type, conversion } => {
                    let result = arithmetic(*operation, operands, operand_type, &columns, &row_map)?;
                    convert_output(result, conversion.as_ref(), &output.name, &row_map)?
                }
            };
            // A batch whose types drifted from the compiled schema still
            // gets the promised output types.
            let type_name = output.data_type.to_string();
            arrays.push(convert(&array, &output.data_type, &output.name, &type_name, &row_map)?);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let output = RecordBatch::try_new_with_options(self.output_schema(), arrays, &options)?;
        Ok(TaskOutput {
            batch: output,
            rows_in,
            rows_filtered: rows_in - rows_matching,
            rows_dropped,
            validation_drops,
        })
    }
}

#[cfg(test)]
mod tests;
