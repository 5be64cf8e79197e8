//! The one-page runbook for the wall next to the monitor: the containment order with the reason
//! for each step, the fifteen blast-radius checks with tick boxes, this organisation's contacts and
//! break-glass accounts, and the response-time targets.
//!
//! It is always exactly one page, on A4 and on US Letter. Every field that comes from settings is
//! cut to a fixed number of lines, and the page is composed at the largest type size (from a fixed
//! list) at which everything fits; missing details are printed as blank lines to fill in by hand.

use chrono::{DateTime, FixedOffset};

use super::fonts::{font_set, FontSet, Weight};
use super::layout::{
    self, palette, set_line, set_text, Align, Canvas, Margins, Paper, PdfInfo, Rgb, TextStyle,
};
use crate::organisation::{self, Contact, Organisation};
use crate::paths::DataRoot;
use crate::Error;

/// One step of the containment order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainmentStep {
    /// 0–7.
    pub number: u8,
    /// What the step is called.
    pub title: &'static str,
    /// What to do, in one or two sentences.
    pub action: &'static str,
    /// Why it comes at this point of the order.
    pub why: &'static str,
    /// The directory role the step needs, on an ordinary account and on an administrator's
    /// (spec/graph-behaviour.md, "Roles for writes"); empty when no role is in question.
    pub roles: &'static str,
}

/// The containment order (spec/design.md §2.4) with the reason for each position (§7 "Why the order").
pub const CONTAINMENT_ORDER: [ContainmentStep; 8] = [
    ContainmentStep {
        number: 0,
        title: "Preserve",
        action: "Export the sign-in logs (full JSON) and snapshot authentication methods, inbox \
                 rules, forwarding, delegates and consent grants. Change nothing before this.",
        why: "The next steps destroy that state, and exports are the only evidence that outlives \
              log retention.",
        roles: "",
    },
    ContainmentStep {
        number: 1,
        title: "Revoke sessions",
        action: "Revoke the user's refresh tokens and sign-in sessions.",
        why: "A stolen token still works while you do the rest: it could add a new MFA method or \
              recovery address and let the attacker back in.",
        roles: "Role: Helpdesk, User or Authentication Administrator; for an admin's account (or a member of a role-assignable group) Privileged Authentication Administrator.",
    },
    ContainmentStep {
        number: 2,
        title: "Disable the account",
        action:
            "Block sign-in. Synced from on-premises AD? Disable it there too, or the next sync \
                 turns it back on.",
        why:
            "Stops new sign-ins and, where Continuous Access Evaluation works, ends access sooner; \
              other access tokens live about an hour.",
        roles: "Role: User or Authentication Administrator (not Helpdesk); for an admin's account Privileged Authentication Administrator.",
    },
    ContainmentStep {
        number: 3,
        title: "Reset the password",
        action: "Set a long random password nobody sees; require a change at next sign-in.",
        why: "Only after revoking: with a live token the attacker can watch the reset and walk \
              back in through self-service reset.",
        roles: "Role: Helpdesk or User Administrator (an app needs User Administrator too); for an admin's account Privileged Authentication Administrator.",
    },
    ContainmentStep {
        number: 4,
        title: "Authentication methods",
        action: "List every method with its creation time; remove those added in or after the \
                 incident window. Never remove everything blindly.",
        why: "With the attacker out and unable to return, the review cannot be raced.",
        roles: "Role: Authentication Administrator; for an admin's account Privileged Authentication Administrator.",
    },
    ContainmentStep {
        number: 5,
        title: "Mailbox",
        action: "Inbox rules (hidden ones too), forwarding (ForwardingSmtpAddress, \
                 ForwardingAddress), delegates (FullAccess, SendAs, SendOnBehalf). Save each \
                 rule's full definition before removing it.",
        why: "Rules and forwarding keep working without any sign-in, so they must be removed \
              explicitly, once no new ones can appear.",
        roles: "",
    },
    ContainmentStep {
        number: 6,
        title: "OAuth consent grants",
        action: "Review the user's app grants (Mail.Read, Mail.ReadWrite, Mail.Send, \
                 Files.ReadWrite.All, offline_access) and admin consents made in the window; \
                 revoke the attacker's.",
        why: "An app's token keeps reading mail after the password changes; it needs no sign-in.",
        roles: "",
    },
    ContainmentStep {
        number: 7,
        title: "Confirm compromised (optional)",
        action: "Mark the user confirmed compromised in Identity Protection.",
        why: "Raises the user's risk so risk-based Conditional Access acts on it, and teaches \
              detection what this attack looked like.",
        roles: "",
    },
];

/// The fifteen blast-radius checks (spec/design.md §2.5).
pub const BLAST_RADIUS_CHECKS: [&str; 15] = [
    "Interactive sign-ins",
    "Non-interactive and service-principal sign-ins",
    "Risky users and risk detections",
    "Inbox rules",
    "Mailbox forwarding",
    "MailItemsAccessed (bulk reads)",
    "SharePoint / OneDrive downloads and sync",
    "Teams activity (external chats, shared files)",
    "Consent grants",
    "Power Automate flows owned by the user",
    "Power Apps owned by the user",
    "Group and role membership changes",
    "Credentials added to service principals",
    "Users created by the account",
    "Conditional Access policy edits",
];

/// One line of the response-time targets (spec/design.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTarget {
    /// The kind of incident.
    pub incident: &'static str,
    /// How it is found.
    pub found_by: &'static str,
    /// How soon the response must start.
    pub respond_within: &'static str,
}

/// The response-time targets printed on the runbook.
pub const RESPONSE_TARGETS: [ResponseTarget; 5] = [
    ResponseTarget {
        incident: "Compromised account",
        found_by: "weekly review",
        respond_within: "30 minutes of the review",
    },
    ResponseTarget {
        incident: "Compromised account",
        found_by: "high-severity alert",
        respond_within: "1 hour (business hours)",
    },
    ResponseTarget {
        incident: "Phishing click, blocked",
        found_by: "weekly review",
        respond_within: "7 days (batch)",
    },
    ResponseTarget {
        incident: "Phishing click, page reached",
        found_by: "user report or alert",
        respond_within: "1 hour",
    },
    ResponseTarget {
        incident: "Business email compromise signs",
        found_by: "during the account response",
        respond_within: "the same session",
    },
];

/// What the runbook is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookInput {
    /// The organisation's details; empty fields print as blanks.
    pub organisation: Organisation,
    /// When the runbook is printed (from the injected clock), with the offset to show it in.
    pub printed_at: DateTime<FixedOffset>,
}

/// What a missing detail prints as.
pub const BLANK: &str = "________________";

/// Break-glass accounts listed by name; more are summarised.
const MAX_BREAK_GLASS_LINES: usize = 3;

/// The type sizes tried, largest first, until the page is full but not overfull.
const SCALES: [f32; 10] = [1.12, 1.08, 1.04, 1.0, 0.96, 0.92, 0.88, 0.84, 0.8, 0.76];

/// Renders the runbook as a one-page PDF.
pub fn render(input: &RunbookInput, paper: Paper) -> Result<Vec<u8>, Error> {
    let fonts = font_set()?;
    let canvas = compose(fonts, input, paper);
    let info = PdfInfo {
        title: "Compromised account — response runbook".to_owned(),
        subject: format!("Response runbook for {}", org_name(&input.organisation)),
        identifier: document_id(input),
        created: input.printed_at,
    };
    layout::write_pdf(fonts, &canvas, &info)
}

/// Renders the runbook from the organisation details saved in `root`, on `paper` or else the
/// configured paper, and writes it into the data folder's `reports/` as
/// `runbook-<paper>-<date>-<time>.pdf`. Returns the file's path.
pub fn save_in_reports(
    root: &DataRoot,
    paper: Option<Paper>,
    printed_at: DateTime<FixedOffset>,
) -> Result<std::path::PathBuf, Error> {
    let organisation = organisation::load(root)?;
    let paper = paper.unwrap_or(organisation.paper);
    let pdf = render(
        &RunbookInput {
            organisation,
            printed_at,
        },
        paper,
    )?;
    let dir = root.reports_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let path = dir.join(format!(
        "runbook-{}-{}.pdf",
        paper.as_str(),
        printed_at.format("%Y%m%d-%H%M%S")
    ));
    std::fs::write(&path, pdf).map_err(|e| Error::io("write", &path, e))?;
    Ok(path)
}

fn document_id(input: &RunbookInput) -> String {
    super::document_id("RUNBOOK", input.printed_at)
}

fn org_name(org: &Organisation) -> &str {
    if org.name.trim().is_empty() {
        "Organisation: ________________"
    } else {
        org.name.trim()
    }
}

const MARGINS: Margins = Margins {
    top: 30.0,
    right: 32.0,
    bottom: 30.0,
    left: 32.0,
};

/// Composes the page at the largest scale that fits.
fn compose(fonts: &FontSet, input: &RunbookInput, paper: Paper) -> Canvas {
    let mut last = None;
    for scale in SCALES {
        let (canvas, fits) = compose_at(fonts, input, paper, scale);
        if fits {
            return canvas;
        }
        last = Some(canvas);
    }
    // Every field is bounded, so the smallest scale always fits; keep its page regardless.
    last.unwrap_or_else(|| Canvas::new(paper))
}

struct Styles {
    title: TextStyle,
    subtitle: TextStyle,
    callout: TextStyle,
    heading: TextStyle,
    step_title: TextStyle,
    body: TextStyle,
    why: TextStyle,
    small: TextStyle,
    small_bold: TextStyle,
    number: TextStyle,
}

impl Styles {
    fn at(s: f32) -> Self {
        let st =
            |w, size: f32, color: Rgb, leading| TextStyle::new(w, size * s, color).leading(leading);
        Self {
            title: st(Weight::Bold, 16.0, palette::WHITE, 1.2),
            subtitle: st(Weight::Regular, 8.5, Rgb(0.84, 0.89, 0.93), 1.3),
            callout: st(Weight::Bold, 9.0, palette::ACCENT, 1.3),
            heading: st(Weight::Bold, 10.0, palette::NAVY, 1.3),
            step_title: st(Weight::Bold, 9.0, palette::INK, 1.3),
            body: st(Weight::Regular, 7.9, palette::INK, 1.3),
            why: st(Weight::Regular, 7.4, palette::MUTED, 1.28),
            small: st(Weight::Regular, 7.4, palette::INK, 1.3),
            small_bold: st(Weight::Bold, 7.4, palette::INK, 1.3),
            number: st(Weight::Bold, 8.5, palette::WHITE, 1.0),
        }
    }
}

/// Lays the page out at `scale`; returns the canvas and whether everything fitted.
fn compose_at(fonts: &FontSet, input: &RunbookInput, paper: Paper, scale: f32) -> (Canvas, bool) {
    let org = &input.organisation;
    let st = Styles::at(scale);
    let mut c = Canvas::new(paper);
    let page = c.add_page();
    let (page_w, page_h) = paper.size();
    let left = MARGINS.left;
    let width = page_w - MARGINS.left - MARGINS.right;
    let gap = 12.0 * scale;
    let mut y = MARGINS.top;

    // Title band.
    let pad = 10.0 * scale;
    let title = set_line(
        fonts,
        "If a Microsoft 365 account is compromised",
        st.title,
        width - 2.0 * pad,
    );
    let sub_text = format!(
        "{} · Response runbook · printed {} · keep next to the monitor",
        org_name(org),
        input.printed_at.format("%-d %B %Y")
    );
    let subtitle = set_text(fonts, &sub_text, st.subtitle, width - 2.0 * pad);
    let subtitle_lines = &subtitle.lines[..subtitle.lines.len().min(2)];
    let band_h = 2.0 * pad
        + st.title.line_height()
        + 2.0
        + subtitle_lines.len() as f32 * st.subtitle.line_height();
    c.rect(page, (left, y, width, band_h), Some(palette::NAVY), None);
    c.line(
        page,
        (left + pad, y + pad, width),
        &title,
        st.title,
        Align::Left,
    );
    c.lines(
        page,
        (
            left + pad,
            y + pad + st.title.line_height() + 2.0,
            width - 2.0 * pad,
        ),
        subtitle_lines,
        st.subtitle,
        Align::Left,
    );
    y += band_h + 8.0 * scale;

    // The one thing to remember.
    let callout = set_text(
        fonts,
        "A password reset alone is not containment. Work down the order: save the evidence, \
         revoke sessions, then disable, then reset. Never contact the user through the \
         compromised mailbox or Teams: phone them.",
        st.callout,
        width - 2.0 * pad - 3.0,
    );
    let callout_h = callout.height() + 2.0 * 6.0 * scale;
    c.rect(
        page,
        (left, y, width, callout_h),
        Some(palette::CALLOUT),
        None,
    );
    c.rect(page, (left, y, 3.0, callout_h), Some(palette::ACCENT), None);
    c.block(
        page,
        left + pad + 3.0,
        y + 6.0 * scale,
        width - 2.0 * pad,
        &callout,
    );
    y += callout_h + 10.0 * scale;

    // Two columns.
    let left_w = width * 0.57;
    let right_x = left + left_w + gap;
    let right_w = width - left_w - gap;
    let columns_top = y;
    let left_bottom =
        containment_column(fonts, &mut c, page, &st, (left, columns_top, left_w), scale);
    let right_bottom = people_column(
        fonts,
        &mut c,
        page,
        &st,
        input,
        (right_x, columns_top, right_w),
        scale,
    );
    c.vline(
        page,
        left + left_w + gap / 2.0,
        columns_top + 2.0,
        left_bottom.max(right_bottom),
        palette::RULE,
        0.5,
    );
    y = left_bottom.max(right_bottom) + 10.0 * scale;

    // Blast radius checklist across the page.
    y = checklist(fonts, &mut c, page, &st, (left, y, width), scale);

    // Footer.
    let footer_style = TextStyle::new(Weight::Regular, 7.0, palette::MUTED);
    let footer_top = page_h - MARGINS.bottom - footer_style.line_height();
    c.hline(
        page,
        left,
        left + width,
        footer_top - 3.0,
        palette::RULE,
        0.5,
    );
    let id = set_line(
        fonts,
        &format!("{} · {}", document_id(input), layout::page_label(1, 1)),
        footer_style,
        width * 0.45,
    );
    let note = set_line(
        fonts,
        "Made with Firebreak. Reprint it whenever contacts or break-glass accounts change.",
        footer_style,
        width - id.width - 12.0,
    );
    c.line(
        page,
        (left, footer_top, width),
        &note,
        footer_style,
        Align::Left,
    );
    c.line(
        page,
        (left, footer_top, width),
        &id,
        footer_style,
        Align::Right,
    );
    let fits = y <= footer_top - 6.0;
    (c, fits)
}

fn column_heading(
    fonts: &FontSet,
    c: &mut Canvas,
    page: usize,
    st: &Styles,
    (x, y, w): (f32, f32, f32),
    text: &str,
) -> f32 {
    let line = set_line(fonts, text, st.heading, w);
    c.line(page, (x, y, w), &line, st.heading, Align::Left);
    let rule = y + st.heading.line_height() + 1.0;
    c.hline(page, x, x + w, rule, palette::NAVY, 0.8);
    rule + 5.0
}

fn tick_box(c: &mut Canvas, page: usize, x: f32, top: f32, size: f32) {
    c.rect(
        page,
        (x, top, size, size),
        Some(palette::WHITE),
        Some((palette::INK, 0.6)),
    );
}

fn containment_column(
    fonts: &FontSet,
    c: &mut Canvas,
    page: usize,
    st: &Styles,
    (x, top, w): (f32, f32, f32),
    scale: f32,
) -> f32 {
    let mut y = column_heading(
        fonts,
        c,
        page,
        st,
        (x, top, w),
        "Contain — in this order, one step at a time",
    );
    let badge = 13.0 * scale;
    let indent = badge + 6.0 * scale;
    let box_size = 8.0 * scale;
    let text_w = w - indent - box_size - 6.0;
    for step in CONTAINMENT_ORDER {
        c.rect(page, (x, y + 0.5, badge, badge), Some(palette::NAVY), None);
        let number = set_line(fonts, &step.number.to_string(), st.number, badge);
        let num_top = y + 0.5 + (badge - st.number.line_height()) / 2.0;
        c.line(page, (x, num_top, badge), &number, st.number, Align::Center);
        let title = set_line(fonts, step.title, st.step_title, text_w);
        c.line(
            page,
            (x + indent, y, text_w),
            &title,
            st.step_title,
            Align::Left,
        );
        tick_box(c, page, x + w - box_size, y + 2.0, box_size);
        y += st.step_title.line_height();
        let action = set_text(fonts, step.action, st.body, text_w);
        c.block(page, x + indent, y, text_w, &action);
        y += action.height();
        let why = set_text(fonts, &format!("Why here: {}", step.why), st.why, text_w);
        c.block(page, x + indent, y, text_w, &why);
        y += why.height();
        if !step.roles.is_empty() {
            let roles = set_text(fonts, step.roles, st.why, text_w);
            c.block(page, x + indent, y, text_w, &roles);
            y += roles.height();
        }
        y += 5.0 * scale;
    }
    y
}

fn contact_lines(contact: &Contact) -> (String, String) {
    let or_blank = |s: &str, blank: &str| {
        if s.trim().is_empty() {
            blank.to_owned()
        } else {
            s.trim().to_owned()
        }
    };
    (
        format!(
            "{}   {}",
            or_blank(&contact.name, BLANK),
            or_blank(&contact.phone, "tel. __________")
        ),
        or_blank(&contact.email, "email ______________"),
    )
}

fn people_column(
    fonts: &FontSet,
    c: &mut Canvas,
    page: usize,
    st: &Styles,
    input: &RunbookInput,
    (x, top, w): (f32, f32, f32),
    scale: f32,
) -> f32 {
    let org = &input.organisation;
    let mut y = column_heading(fonts, c, page, st, (x, top, w), "Who to call");
    let label_w = 62.0 * scale;
    let value_w = w - label_w;
    for (role, contact) in org.contacts.iter() {
        let (first, second) = contact_lines(contact);
        let label = set_text(fonts, role.label(), st.small_bold, label_w - 4.0);
        let label_lines = &label.lines[..label.lines.len().min(2)];
        c.lines(
            page,
            (x, y, label_w - 4.0),
            label_lines,
            st.small_bold,
            Align::Left,
        );
        let first = set_line(fonts, &first, st.small, value_w);
        let second = set_line(fonts, &second, st.small, value_w);
        c.line(
            page,
            (x + label_w, y, value_w),
            &first,
            st.small,
            Align::Left,
        );
        c.line(
            page,
            (x + label_w, y + st.small.line_height(), value_w),
            &second,
            st.small,
            Align::Left,
        );
        y += 2.0 * st.small.line_height() + 3.0 * scale;
    }

    y += 6.0 * scale;
    y = column_heading(fonts, c, page, st, (x, y, w), "Break-glass accounts");
    let accounts = &org.break_glass_accounts;
    let mut lines: Vec<String> = accounts
        .iter()
        .take(MAX_BREAK_GLASS_LINES)
        .cloned()
        .collect();
    if accounts.len() > MAX_BREAK_GLASS_LINES {
        lines.push(format!(
            "and {} more (listed in Firebreak's Settings)",
            accounts.len() - MAX_BREAK_GLASS_LINES
        ));
    }
    if lines.is_empty() {
        lines = vec![format!("{BLANK}{BLANK}"), format!("{BLANK}{BLANK}")];
    }
    for line in &lines {
        let set = set_line(fonts, line, st.small, w);
        c.line(page, (x, y, w), &set, st.small, Align::Left);
        y += st.small.line_height();
    }
    let note = set_text(
        fonts,
        "Sign in with these only to respond; never disable or reset them during a response.",
        st.why,
        w,
    );
    c.block(page, x, y + 1.0, w, &note);
    y += note.height() + 9.0 * scale;

    y = column_heading(fonts, c, page, st, (x, y, w), "Respond within");
    let when_w = w * 0.38;
    let what_w = w - when_w - 6.0;
    for target in RESPONSE_TARGETS {
        let what = set_text(
            fonts,
            &format!("{}, found by {}", target.incident, target.found_by),
            st.small,
            what_w,
        );
        let when = set_text(fonts, target.respond_within, st.small_bold, when_w);
        c.block(page, x, y, what_w, &what);
        c.block(page, x + what_w + 6.0, y, when_w, &when);
        y += what.height().max(when.height()) + 2.5 * scale;
    }

    y += 7.0 * scale;
    y = column_heading(
        fonts,
        c,
        page,
        st,
        (x, y, w),
        "Clocks that start at awareness",
    );
    let nis2 = match org.nis2_applies {
        Some(true) => "NIS2 applies to us: early warning to the authority within 24 hours.",
        Some(false) => "NIS2 does not apply to us (decided in Firebreak's Settings).",
        None => {
            "NIS2: does it apply to us?  [ ] yes  [ ] no.  If yes: early warning within 24 hours."
        }
    };
    let gdpr = "GDPR: personal data exposed? Give the privacy lead the facts early: the 72 hours \
                run from when the organisation became aware.";
    for text in [gdpr, nis2] {
        let block = set_text(fonts, text, st.small, w);
        c.block(page, x, y, w, &block);
        y += block.height() + 2.0 * scale;
    }
    y
}

fn checklist(
    fonts: &FontSet,
    c: &mut Canvas,
    page: usize,
    st: &Styles,
    (x, top, w): (f32, f32, f32),
    scale: f32,
) -> f32 {
    let mut y = column_heading(
        fonts,
        c,
        page,
        st,
        (x, top, w),
        "Blast radius — finish all fifteen before closing the case",
    );
    let legend = set_text(
        fonts,
        "Tick each when checked and note the result: clean, finding, not available (why), or \
         checked by hand in the portal. Also look sideways: other accounts signing in from the \
         attacker's addresses, inbox rules created in bulk, a spree of consents.",
        st.why,
        w,
    );
    c.block(page, x, y, w, &legend);
    y += legend.height() + 4.0 * scale;
    let columns = 3;
    let col_gap = 10.0 * scale;
    let col_w = (w - col_gap * (columns as f32 - 1.0)) / columns as f32;
    let per_column = BLAST_RADIUS_CHECKS.len().div_ceil(columns);
    let box_size = 8.0 * scale;
    let label_w = col_w - box_size - 5.0;
    let labels: Vec<_> = BLAST_RADIUS_CHECKS
        .iter()
        .enumerate()
        .map(|(i, check)| {
            let block = set_text(fonts, &format!("{}. {}", i + 1, check), st.small, label_w);
            block.lines[..block.lines.len().min(2)].to_vec()
        })
        .collect();
    // Row r is as tall as its tallest label across the columns.
    let row_heights: Vec<f32> = (0..per_column)
        .map(|row| {
            (0..columns)
                .filter_map(|col| labels.get(col * per_column + row))
                .map(|lines| lines.len().max(1))
                .max()
                .unwrap_or(1) as f32
                * st.small.line_height()
                + 3.0 * scale
        })
        .collect();
    for (i, lines) in labels.iter().enumerate() {
        let col = i / per_column;
        let row = i % per_column;
        let cx = x + col as f32 * (col_w + col_gap);
        let cy = y + row_heights[..row].iter().sum::<f32>();
        tick_box(c, page, cx, cy + 1.0, box_size);
        c.lines(
            page,
            (cx + box_size + 5.0, cy, label_w),
            lines,
            st.small,
            Align::Left,
        );
    }
    y + row_heights.iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organisation::Contacts;

    fn printed_at() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-03-01T23:47:00+01:00").expect("time")
    }

    fn pages(pdf: &[u8]) -> usize {
        lopdf::Document::load_mem(pdf)
            .expect("valid pdf")
            .get_pages()
            .len()
    }

    fn worst_case() -> Organisation {
        let long = "Maximilian Alexander Wolfgang von und zu Hohenzollern-Sigmaringen-Überlingen";
        let contact = Contact {
            name: format!("{long} {long}"),
            phone: "+49 (0) 7551 123456789 ext. 4242 / mobile +49 171 1234567".into(),
            email: format!("{}@example.com", "x".repeat(150)),
        };
        Organisation {
            name: "Ｗｉｄｅ 中文名称 Организация \u{202E}evil ".repeat(6),
            contacts: Contacts {
                security_lead: contact.clone(),
                privacy_lead: contact.clone(),
                manager: contact.clone(),
                finance: contact.clone(),
                it_admin: contact,
            },
            break_glass_accounts: (1..=10)
                .map(|i| format!("breakglass{i}-{}@contoso.onmicrosoft.com", "y".repeat(80)))
                .collect(),
            nis2_applies: None,
            paper: Paper::A4,
        }
    }

    #[test]
    fn the_runbook_is_exactly_one_page_on_both_papers_even_with_long_details() {
        for org in [Organisation::default(), worst_case()] {
            for paper in [Paper::A4, Paper::Letter] {
                let input = RunbookInput {
                    organisation: org.clone(),
                    printed_at: printed_at(),
                };
                let fonts = font_set().expect("fonts");
                let fits = SCALES
                    .iter()
                    .any(|s| compose_at(fonts, &input, paper, *s).1);
                assert!(fits, "some scale fits on {paper:?}");
                let pdf = render(&input, paper).expect("render");
                assert_eq!(pages(&pdf), 1, "{paper:?}");
            }
        }
    }

    #[test]
    fn the_page_size_matches_the_paper() {
        let input = RunbookInput {
            organisation: Organisation::default(),
            printed_at: printed_at(),
        };
        for paper in [Paper::A4, Paper::Letter] {
            let pdf = render(&input, paper).expect("render");
            let doc = lopdf::Document::load_mem(&pdf).expect("pdf");
            let (_, page_id) = doc.get_pages().into_iter().next().expect("a page");
            let page = doc.get_dictionary(page_id).expect("page dict");
            let media = page
                .get(b"MediaBox")
                .expect("media box")
                .as_array()
                .expect("array");
            let w = media[2].as_float().expect("width");
            let h = media[3].as_float().expect("height");
            let (ew, eh) = paper.size();
            assert!(
                (w - ew).abs() < 1.0 && (h - eh).abs() < 1.0,
                "{paper:?}: {w}×{h}"
            );
        }
    }

    #[test]
    fn an_empty_organisation_prints_blanks_and_the_fixed_content() {
        let input = RunbookInput {
            organisation: Organisation::default(),
            printed_at: printed_at(),
        };
        let canvas = compose(font_set().expect("fonts"), &input, Paper::A4);
        let text = canvas_text(&canvas);
        assert!(text.contains(BLANK), "missing details print as blanks");
        assert!(text.contains("A password reset alone is not containment"));
        for step in CONTAINMENT_ORDER {
            assert!(text.contains(step.title), "step {}", step.title);
        }
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for check in BLAST_RADIUS_CHECKS {
            let check: String = check.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(squeezed.contains(&check), "check {check}");
        }
        assert!(squeezed.contains("30minutesofthereview"));
        assert!(squeezed.contains("doesitapplytous?"));
    }

    #[test]
    fn more_break_glass_accounts_than_fit_are_summarised() {
        let input = RunbookInput {
            organisation: worst_case(),
            printed_at: printed_at(),
        };
        let text = canvas_text(&compose(font_set().expect("fonts"), &input, Paper::Letter));
        assert!(text.contains("and 7 more"), "{text}");
        assert!(
            text.contains("[U+202E]"),
            "the override in the name is shown, not obeyed"
        );
    }

    #[test]
    fn saving_in_reports_uses_the_configured_paper_and_a_dated_name() {
        let tmp = tempfile::tempdir().expect("temp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let org = Organisation {
            paper: Paper::Letter,
            ..Organisation::default()
        };
        organisation::save(&root, &org).expect("save org");
        let path = save_in_reports(&root, None, printed_at()).expect("save");
        assert_eq!(
            path,
            root.reports_dir()
                .join("runbook-letter-20260301-234700.pdf")
        );
        let pdf = std::fs::read(&path).expect("written");
        assert_eq!(pages(&pdf), 1);
        let path = save_in_reports(&root, Some(Paper::A4), printed_at()).expect("save");
        assert!(
            path.ends_with("runbook-a4-20260301-234700.pdf"),
            "an explicit paper wins"
        );
    }

    #[test]
    fn the_runbook_names_the_roles_microsoft_requires_for_each_write_on_the_account() {
        use firebreak_graph::{permissions::Operation, roles};
        let admin = roles::TargetStanding {
            roles: vec![roles::GLOBAL_ADMIN.to_owned()],
            role_assignable_groups: Vec::new(),
        };
        for (number, op) in [
            (1, Operation::RevokeSignInSessions),
            (2, Operation::SetAccountEnabled),
            (3, Operation::ResetPassword),
            (4, Operation::DeleteAuthenticationMethod),
        ] {
            let step = CONTAINMENT_ORDER[number];
            let (ordinary_text, protected_text) = step.roles.split_once(';').expect("both cases");
            let ordinary_text = ordinary_text.replace("(not Helpdesk)", "");
            let ordinary = roles::roles_needed(op, true, None).expect("a role");
            for role in ["Helpdesk", "User", "Authentication"] {
                let named = ordinary_text.contains(&format!("{role} "))
                    || ordinary_text.contains(&format!("{role},"));
                assert!(
                    !named || ordinary.contains(&format!("{role} Administrator").as_str()),
                    "{}: Microsoft does not let {role} Administrator do this",
                    step.title
                );
            }
            let protected = roles::roles_needed(op, true, Some(&admin)).expect("a role");
            for role in protected.iter().filter(|r| **r != roles::GLOBAL_ADMIN) {
                assert!(protected_text.contains(role), "{}: {role}", step.title);
            }
        }
        assert!(
            roles::roles_needed(Operation::SetAccountEnabled, true, None)
                .is_some_and(|r| !r.contains(&"Helpdesk Administrator"))
                && CONTAINMENT_ORDER[2].roles.contains("not Helpdesk")
        );
    }

    fn canvas_text(canvas: &Canvas) -> String {
        let mut out = String::new();
        for item in canvas.pages.iter().flatten() {
            if let layout::Item::Text { runs, .. } = item {
                for run in runs {
                    out.push_str(&run.text);
                }
                out.push('\n');
            }
        }
        out
    }
}
