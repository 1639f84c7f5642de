//! `catalog-api dead-letters ...`: the admin API's dead-letter routes from a shell,
//! straight on the write database. Letters print as JSON lines, as the API shows them.

use std::{io::Write as _, sync::Arc};

use anyhow::Context as _;
use commerce_core::{deadletter::DeadLetterId, services::dead_letters::DeadLetterService};
use commerce_http::dead_letters::DeadLetterDto;
use commerce_postgres::PgDeadLetters;
use commerce_runtime::SystemClock;

/// What to do with the parked events.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// Print parked events, oldest first, one JSON object per line.
    List {
        /// Only letters numbered above this one.
        #[arg(long)]
        after: Option<DeadLetterId>,
        /// At most this many (1 to 100).
        #[arg(long, default_value = "50")]
        limit: usize,
    },
    /// Print one parked event.
    Show {
        /// Its number.
        id: DeadLetterId,
    },
    /// Send the event again to every consumer and remove the letter.
    Replay {
        /// Its number.
        id: DeadLetterId,
    },
    /// Remove the letter for good.
    Discard {
        /// Its number.
        id: DeadLetterId,
    },
}

/// Runs `command` on the database behind `pool`, printing to stdout.
pub async fn run(pool: commerce_postgres::PgPool, command: &DeadLetterCommand) -> anyhow::Result<()> {
    let service = DeadLetterService::new(Arc::new(PgDeadLetters::new(pool)), Arc::new(SystemClock));
    let mut out = std::io::stdout().lock();
    let mut print = |dto: &DeadLetterDto| -> anyhow::Result<()> {
        writeln!(out, "{}", serde_json::to_string(dto)?).context("writing to stdout")
    };
    match command {
        DeadLetterCommand::List { after, limit } => {
            let page = service.list(*after, *limit).await?;
            for letter in &page.items {
                print(&DeadLetterDto::new(letter, page.as_of))?;
            }
            if let Some(next) = page.next {
                tracing::info!(%next, "more letters: pass --after {next}");
            }
        }
        DeadLetterCommand::Show { id } => {
            let (letter, now) = service.get(*id).await?;
            print(&DeadLetterDto::new(&letter, now))?;
        }
        DeadLetterCommand::Replay { id } => {
            let (letter, now) = service.replay(*id).await?;
            print(&DeadLetterDto::new(&letter, now))?;
        }
        DeadLetterCommand::Discard { id } => service.discard(*id).await?,
    }
    Ok(())
}
