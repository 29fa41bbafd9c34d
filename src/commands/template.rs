//! `template`: show a bundled template, list the parameters a template declares, or write the
//! bundled pair out for use in the console.

use serde::Serialize;

use super::Exit;
use super::inputs::read_template;
use crate::cli::{TemplateAction, TemplateArgs, Which};
use crate::input::Input;
use crate::template::{self, Parameter, Template};
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

impl<'a> From<&'a Parameter> for ParamRow<'a> {
    fn from(p: &'a Parameter) -> ParamRow<'a> {
        ParamRow {
            name: &p.name,
            kind: p.kind.as_str(),
            default: p.default.as_deref(),
            required: p.required(),
            allowed_values: &p.allowed_values,
            no_echo: p.no_echo,
            description: p.description.as_deref(),
        }
    }
}

pub fn run(args: &TemplateArgs, printer: &Printer) -> Exit {
    match &args.action {
        TemplateAction::Show { which } => {
            let text = bundled(*which);
            let doc = serde_json::json!({
                "template": format!("{which:?}").to_lowercase(),
                "file_name": file_name(*which),
                "body": text,
            });
            printer.result(|| text.to_string(), || json(&doc));
            Exit::Ok
        }
        TemplateAction::Params { template } => params(template, printer),
        TemplateAction::Export { dir } => export(dir, printer),
    }
}

fn json(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The vendor's file name of a bundled template.
fn file_name(which: Which) -> &'static str {
    match which {
        Which::Shared => template::SHARED_FILE_NAME,
        Which::Lambda => template::LAMBDA_FILE_NAME,
    }
}

fn bundled(which: Which) -> &'static str {
    match which {
        Which::Shared => template::BUNDLED_SHARED,
        Which::Lambda => template::BUNDLED_LAMBDA,
    }
}

fn params(which: &str, printer: &Printer) -> Exit {
    let t = match which {
        "shared" => Ok(std::sync::Arc::new(Template::bundled_shared())),
        "lambda" => Ok(std::sync::Arc::new(Template::bundled_lambda())),
        path => read_template(
            Some(std::path::Path::new(path)),
            Input::TemplateFile,
            Template::bundled_lambda,
        ),
    };
    let t = match t {
        Ok(t) => t,
        Err(e) => {
            printer.error(&e.to_string());
            return Exit::BadInput;
        }
    };
    let rows: Vec<ParamRow> = t.parameters.iter().map(ParamRow::from).collect();
    printer.result(
        || table(&rows),
        || serde_json::to_string_pretty(&rows).unwrap_or_default(),
    );
    Exit::Ok
}

/// The parameters as a table: one row each, the description on its own indented line.
fn table(rows: &[ParamRow]) -> String {
    let w = |f: &dyn Fn(&ParamRow) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let (wn, wt) = (w(&|r| r.name.len()).max(4), w(&|r| r.kind.len()).max(4));
    let default = |r: &ParamRow| match (r.required, r.default) {
        (true, _) => "(required)".to_string(),
        (false, Some("")) => "\"\"".to_string(),
        (false, d) => d.unwrap_or_default().to_string(),
    };
    let wd = w(&|r| default(r).len()).max(7);
    let mut out = format!(
        "{:<wn$}  {:<wt$}  {:<wd$}  {:<6}  allowed\n",
        "name", "type", "default", "NoEcho"
    );
    for r in rows {
        let row = format!(
            "{:<wn$}  {:<wt$}  {:<wd$}  {:<6}  {}",
            r.name,
            r.kind,
            default(r),
            if r.no_echo { "yes" } else { "" },
            r.allowed_values.join(", ")
        );
        out.push_str(row.trim_end());
        out.push('\n');
        if let Some(d) = r.description {
            out.push_str(&format!("    {d}\n"));
        }
    }
    out
}

fn export(dir: &std::path::Path, printer: &Printer) -> Exit {
    let files: Vec<std::path::PathBuf> = [Which::Shared, Which::Lambda]
        .iter()
        .map(|w| dir.join(file_name(*w)))
        .collect();
    let written = std::fs::create_dir_all(dir).and_then(|_| {
        for (path, which) in files.iter().zip([Which::Shared, Which::Lambda]) {
            std::fs::write(path, bundled(which))?;
        }
        Ok(())
    });
    match written {
        Ok(()) => {
            let shown: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            let doc = serde_json::json!({
                "dir": dir.display().to_string(),
                "files": shown,
            });
            printer.result(|| shown.join("\n"), || json(&doc));
            Exit::Ok
        }
        Err(e) => {
            printer.error(&format!(
                "template export {}: cannot write the templates there ({e}); give a folder you can write to",
                dir.display()
            ));
            Exit::BadInput
        }
    }
}
