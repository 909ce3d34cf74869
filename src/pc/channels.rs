//! Data channels as the W3C API shows them: [`ChannelId`] handles that exist before their SCTP stream
//! id is known, the channel calls, and the data channel layer's events in the connection's terms.

use alloc::vec::Vec;

use bytes::Bytes;

use super::conn::PeerConnection;
use super::error::Error;
use super::{ChannelId, ChannelOptions, Event, SignalingState};
use crate::datachannel::{self, DataChannels};
use crate::time::Instant;

/// Where a channel is in its life, as the application sees it.
#[derive(Clone, Debug)]
pub(super) enum Phase {
    /// Created before the DTLS role (and so the parity of its stream id) was known: waits for it.
    Pending(ChannelOptions),
    /// Given to the data channel layer on `stream`, not reported open yet.
    Opening(u16),
    /// Open (reported to the application) on `stream`.
    Open(u16),
}

#[derive(Clone, Debug)]
pub(super) struct Slot {
    pub id: ChannelId,
    pub phase: Phase,
}

impl Slot {
    pub fn stream(&self) -> Option<u16> {
        match self.phase {
            Phase::Pending(_) => None,
            Phase::Opening(s) | Phase::Open(s) => Some(s),
        }
    }
}

/// The connection's channels, by handle.
#[derive(Debug, Default)]
pub(super) struct Channels {
    slots: Vec<Slot>,
    next: u32,
    /// Channels that reached `open` (W3C `dataChannelsOpened`).
    pub opened: u64,
    /// Channels that left `open` (W3C `dataChannelsClosed`).
    pub closed: u64,
}

impl Channels {
    fn new_id(&mut self) -> ChannelId {
        let id = ChannelId(self.next);
        self.next = self.next.wrapping_add(1);
        id
    }

    fn push(&mut self, slot: Slot) {
        crate::util::reserve_compact(&mut self.slots);
        self.slots.push(slot);
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every channel, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.slots.iter()
    }

    fn get(&self, id: ChannelId) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    fn by_stream(&self, stream: u16) -> Option<&Slot> {
        self.slots.iter().find(|s| s.stream() == Some(stream))
    }

    fn by_stream_mut(&mut self, stream: u16) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.stream() == Some(stream))
    }

    fn remove_stream(&mut self, stream: u16) -> Option<Slot> {
        let i = self.slots.iter().position(|s| s.stream() == Some(stream))?;
        Some(self.slots.remove(i))
    }

    /// Every channel, forgotten (the connection closed).
    pub fn take_all(&mut self) -> Vec<Slot> {
        self.closed += self.slots.iter().filter(|s| matches!(s.phase, Phase::Open(_))).count() as u64;
        core::mem::take(&mut self.slots)
    }

    /// The channels created before the DTLS role was known go to the data channel layer. One it refuses
    /// (a negotiated id of the wrong parity or beyond the stream count) is closed, with
    /// [`Event::ChannelError`] first.
    pub fn open_pending(&mut self, now: Instant, dc: &mut DataChannels, events: &mut impl FnMut(Event)) {
        let mut i = 0;
        while let Some(slot) = self.slots.get_mut(i) {
            if let Phase::Pending(options) = &slot.phase {
                match dc.open(now, options.clone()) {
                    Ok(stream) => slot.phase = Phase::Opening(stream),
                    Err(error) => {
                        tracing::debug!(target: super::TARGET, %error, "pending channel refused");
                        let id = slot.id;
                        self.slots.remove(i);
                        events(Event::ChannelError { id, error });
                        events(Event::ChannelClose(id));
                        continue;
                    }
                }
            }
            i += 1;
        }
    }

    /// A data channel event in the connection's terms; `second` receives a second event where one
    /// layer event makes two.
    pub fn on_dc_event(&mut self, e: datachannel::Event, second: &mut Option<Event>) -> Option<Event> {
        match e {
            datachannel::Event::ChannelOpen(stream) => {
                let slot = self.by_stream_mut(stream)?;
                let was_open = matches!(slot.phase, Phase::Open(_));
                slot.phase = Phase::Open(stream);
                let id = slot.id;
                self.opened += u64::from(!was_open);
                Some(Event::ChannelOpen(id))
            }
            datachannel::Event::ChannelOpened { id: stream, label, protocol } => {
                let id = self.new_id();
                self.push(Slot { id, phase: Phase::Open(stream) });
                self.opened += 1;
                Some(Event::DataChannel { id, label, protocol })
            }
            datachannel::Event::Message { id: stream, data, binary } => {
                let id = self.by_stream(stream)?.id;
                Some(Event::Message { id, data, binary })
            }
            datachannel::Event::BufferedAmountLow(stream) => Some(Event::BufferedAmountLow(self.by_stream(stream)?.id)),
            datachannel::Event::ChannelClosed(stream) => {
                let slot = self.remove_stream(stream)?;
                if let Phase::Opening(_) = slot.phase {
                    // Closed before it ever opened: the layer could not announce it (a stream id beyond
                    // what the association negotiated).
                    *second = Some(Event::ChannelClose(slot.id));
                    return Some(Event::ChannelError { id: slot.id, error: datachannel::Error::NoFreeStream });
                }
                self.closed += u64::from(matches!(slot.phase, Phase::Open(_)));
                Some(Event::ChannelClose(slot.id))
            }
            datachannel::Event::Closed(reason) => {
                tracing::debug!(target: super::TARGET, ?reason, "SCTP association closed");
                None
            }
            _ => None,
        }
    }
}

impl PeerConnection {
    /// Creates a data channel (W3C `createDataChannel`): ordered or not, `maxRetransmits` or
    /// `maxPacketLifeTime` through [`ChannelOptions::reliability`], a sub-protocol, and a pre-negotiated
    /// stream id ([`ChannelOptions::negotiated`]). Before the DTLS role is known the channel waits (and is
    /// closed with [`Event::ChannelError`] if the data channel layer then refuses it); the first one
    /// before any negotiation emits [`Event::NegotiationNeeded`]. [`Event::ChannelOpen`] follows when it
    /// is open.
    pub fn create_data_channel(&mut self, now: Instant, options: ChannelOptions) -> Result<ChannelId, Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.check_open()?;
        let phase = match self.dc.as_mut() {
            Some(dc) => Phase::Opening(dc.open(now, options)?),
            None => {
                if let Some(n) = options.negotiated {
                    let taken = self.channels.slots.iter().any(|s| match &s.phase {
                        Phase::Pending(o) => o.negotiated == Some(n),
                        _ => false,
                    });
                    if taken {
                        return Err(Error::DataChannel(datachannel::Error::IdInUse));
                    }
                }
                if self.channels.is_empty() && self.sig.state == SignalingState::Stable {
                    self.emit(Event::NegotiationNeeded);
                }
                Phase::Pending(options)
            }
        };
        let id = self.channels.new_id();
        self.channels.push(Slot { id, phase });
        self.flush();
        Ok(id)
    }

    fn stream(&self, id: ChannelId) -> Result<u16, Error> {
        self.channels.get(id).ok_or(Error::NoSuchChannel)?.stream().ok_or(Error::NotConnected)
    }

    /// The SCTP stream id of a channel, once the DTLS role is known (W3C `RTCDataChannel.id`).
    pub fn channel_stream_id(&self, id: ChannelId) -> Option<u16> {
        self.stream(id).ok()
    }

    /// A channel's options (label, protocol, reliability, …), for a remote channel as announced.
    pub fn channel_options(&self, id: ChannelId) -> Option<&ChannelOptions> {
        match &self.channels.get(id)?.phase {
            Phase::Pending(o) => Some(o),
            Phase::Opening(stream) | Phase::Open(stream) => self.dc.as_ref()?.channel(*stream).map(|c| &c.options),
        }
    }

    /// Sends a text message (PPID 51, or 56 when empty). Then drain `poll_transmit`.
    pub fn send_text(&mut self, now: Instant, id: ChannelId, text: &str) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(text.as_bytes()), false)
    }

    /// Sends a binary message (PPID 53, or 57 when empty). Then drain `poll_transmit`.
    pub fn send_binary(&mut self, now: Instant, id: ChannelId, data: &[u8]) -> Result<(), Error> {
        self.send(now, id, Bytes::copy_from_slice(data), true)
    }

    /// Sends a message without copying it. Then drain `poll_transmit`.
    pub fn send(&mut self, now: Instant, id: ChannelId, data: Bytes, binary: bool) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        self.mark_active();
        self.check_open()?;
        let stream = self.stream(id)?;
        let dc = self.dc.as_mut().ok_or(Error::NotConnected)?;
        dc.send(now, stream, data, binary)?;
        self.send_down();
        Ok(())
    }

    /// Bytes queued on a channel and not yet acknowledged (W3C `bufferedAmount`).
    pub fn buffered_amount(&self, id: ChannelId) -> usize {
        match (self.stream(id), self.dc.as_ref()) {
            (Ok(stream), Some(dc)) => dc.buffered_amount(stream),
            _ => 0,
        }
    }

    /// Sets `bufferedAmountLowThreshold`: [`Event::BufferedAmountLow`] fires when the buffered amount falls
    /// to it or below.
    pub fn set_buffered_amount_low_threshold(&mut self, id: ChannelId, threshold: usize) -> Result<(), Error> {
        let stream = self.stream(id)?;
        let dc = self.dc.as_mut().ok_or(Error::NotConnected)?;
        dc.set_buffered_amount_low_threshold(stream, threshold)?;
        Ok(())
    }

    /// Closes a channel (SCTP stream reset, RFC 8831 §6.7); [`Event::ChannelClose`] follows on both sides.
    /// A channel still waiting for negotiation is dropped at once.
    pub fn close_channel(&mut self, now: Instant, id: ChannelId) -> Result<(), Error> {
        let _span = self.enter_span();
        self.touch(now);
        let slot = self.channels.get(id).ok_or(Error::NoSuchChannel)?;
        match (slot.stream(), self.dc.as_mut()) {
            (Some(stream), Some(dc)) => dc.close(now, stream)?,
            _ => {
                self.channels.slots.retain(|s| s.id != id);
                self.emit(Event::ChannelClose(id));
            }
        }
        self.flush();
        Ok(())
    }
}
