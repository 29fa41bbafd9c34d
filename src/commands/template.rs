//! `template`: print a bundled template, or the parameters a template file declares.

use serde::Serialize;

use super::Exit;
use super::inputs::read_template;
use crate::cli::{OutputFormat, TemplateArgs, Which};
use crate::input::Input;
use crate::template::{self, Template};
use crate::ui::Printer;

#[derive(Serialize)]
struct ParamRow<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    default: Option<&'a str>,
    required: bool,
    allowed_values: &'a [String],
    no_echo: bool,
    description: Option<&'a str>,
}

pub fn run(args: &TemplateArgs, printer: &Printer) -> Exit {
    let Some(path) = &args.parameters else {
        printer.out(
            match args.which {
                Which::Shared => template::BUNDLED_SHARED,
                Which::Lambda => template::BUNDLED_LAMBDA,
            }
            .trim_end(),
        );
        return Exit::Ok;
    };
    let t = match read_template(Some(path), Input::TemplateFile, Template::bundled_lambda) {
        Ok(t) => t,
        Err(e) => {
            printer.error(&e.to_string());
            return Exit::BadInput;
        }
    };
    let rows: Vec<ParamRow> = t
        .parameters
        .iter()
        .map(|p| ParamRow {
            name: &p.name,
            kind: &p.kind,
            default: p.default.as_deref(),
            required: p.required(),
            allowed_values: &p.allowed_values,
            no_echo: p.no_echo,
            description: p.description.as_deref(),
        })
        .collect();
    match printer.format {
        OutputFormat::Json => printer.out(&serde_json::to_string_pretty(&rows).unwrap_or_default()),
        OutputFormat::Text => {
            for r in &rows {
                let mut line = format!("{} ({})", r.name, r.kind);
                if r.required {
                    line.push_str(" required");
                } else if let Some(d) = r.default {
                    line.push_str(&format!(" default {d:?}"));
                }
                if !r.allowed_values.is_empty() {
                    line.push_str(&format!(" allowed: {}", r.allowed_values.join(", ")));
                }
                if r.no_echo {
                    line.push_str(" NoEcho");
                }
                if let Some(d) = r.description {
                    line.push_str(&format!("\n    {d}"));
                }
                printer.out(&line);
            }
        }
    }
    Exit::Ok
}
