//! [`DevMailbox`]: where a development shop's messages go instead of the customers'
//! inboxes: kept in memory (the latest 100) and announced in the log.

use std::{collections::VecDeque, sync::Mutex};

use async_trait::async_trait;
use commerce_core::{
    notify::{DeliveryError, Message},
    ports::Mailer,
};

/// Messages kept for a developer to read.
#[derive(Debug, Default)]
pub struct DevMailbox {
    messages: Mutex<VecDeque<Message>>,
}

impl DevMailbox {
    /// How many messages it keeps.
    pub const CAPACITY: usize = 100;

    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages kept, newest first.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().rev().cloned().collect()
    }
}

#[async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        tracing::info!(
            to = message.to.as_str(),
            subject = message.content.subject,
            message_id = message.message_id,
            "development mailbox: message kept, not sent (set SMTP_URL to send mail)"
        );
        let mut messages = self.messages.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if messages.len() == Self::CAPACITY {
            messages.pop_front();
        }
        messages.push_back(message.clone());
        Ok(())
    }
}
