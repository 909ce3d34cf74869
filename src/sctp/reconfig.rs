//! Stream reconfiguration (RFC 6525): outgoing SSN reset requests, and answering the peer's.

use alloc::vec::Vec;

use super::assoc::{Association, DeferredReset, ResetRequest, State};
use super::error::{Error, SendError};
use super::wire::{self, Params, ReconfigParam, ReconfigResult};
use super::{Event, TARGET, tsn_le};
use crate::time::Instant;

impl Association {
    /// Resets (closes) outgoing `streams` (RFC 6525 §5.1.2): each is reset once its queued data has been
    /// sent, then [`Event::OutgoingStreamReset`] reports it and its sequence numbers restart at zero. New
    /// sends on a stream being reset are refused with [`SendError::StreamClosing`].
    pub fn reset_streams(&mut self, now: Instant, streams: &[u16]) -> Result<(), SendError> {
        self.touch(now);
        if self.state() != State::Established || self.is_ended() {
            return Err(SendError::NotConnected);
        }
        if !self.peer_supports_reconfig() {
            return Err(SendError::NotConnected);
        }
        if streams.iter().any(|&s| s >= self.outbound_streams()) {
            return Err(SendError::InvalidStream);
        }
        for &s in streams {
            let out = self.send.stream_mut(s);
            if !out.resetting {
                out.resetting = true;
                self.reset_queue.push(s);
            }
        }
        self.owe_output();
        Ok(())
    }

    /// Writes a RE-CONFIG chunk into the packet being built when a request or response is due.
    pub(super) fn emit_reconfig(&mut self) {
        let mtu = self.mtu();
        if let Some((seq, result)) = self.reset_response.take() {
            if self.tx_mut().len() + 16 <= mtu {
                wire::emit_reconfig_response(self.tx_mut(), seq, result);
            } else {
                self.reset_response = Some((seq, result));
            }
        }
        if self.reset_inflight.is_none() && !self.reset_queue.is_empty() {
            // Streams whose queued data all has TSNs can go now (their last TSN is below the cut).
            let max = (mtu.saturating_sub(self.tx_mut().len() + 24) / 2).min(512);
            let mut streams = Vec::new();
            let send = &self.send;
            self.reset_queue.retain(|&s| {
                if streams.len() < max && !send.has_unsent(s) {
                    streams.push(s);
                    false
                } else {
                    true
                }
            });
            if !streams.is_empty() {
                let seq = self.next_reset_seq;
                self.next_reset_seq = seq.wrapping_add(1);
                self.reset_inflight =
                    Some(ResetRequest { seq, last_tsn: self.outbound_tsn_cut(), streams, resend: true });
                self.arm_reconfig_timer();
            }
        }
        let response_seq = self.peer_reset_seq.wrapping_sub(1);
        let len = self.tx_mut().len();
        let Some(req) = self.reset_inflight.as_mut() else { return };
        if req.resend && len + 20 + req.streams.len() * 2 <= mtu {
            req.resend = false;
            let (seq, last, streams) = (req.seq, req.last_tsn, core::mem::take(&mut req.streams));
            wire::emit_reconfig_request(self.tx_mut(), seq, response_seq, last, &streams);
            if let Some(req) = self.reset_inflight.as_mut() {
                req.streams = streams;
            }
        }
    }

    pub(super) fn on_reconfig(&mut self, params: Params<'_>) -> Result<(), Error> {
        if self.state() < State::Established {
            return Ok(());
        }
        for p in params {
            let p = ReconfigParam::parse(p?)?;
            match p {
                ReconfigParam::OutgoingReset { request_seq, last_tsn, streams, .. } => {
                    let expected = self.peer_reset_seq;
                    let result = if request_seq == expected {
                        if self.received_up_to(last_tsn) {
                            self.peer_reset_seq = expected.wrapping_add(1);
                            for s in streams {
                                self.reset_incoming(s);
                            }
                            self.deferred_reset = None;
                            ReconfigResult::PERFORMED
                        } else {
                            // §5.2.2: wait for the data before the reset, then answer.
                            let streams: Vec<u16> = streams.take(4096).collect();
                            self.deferred_reset = Some(DeferredReset { seq: request_seq, last_tsn, streams });
                            ReconfigResult::IN_PROGRESS
                        }
                    } else if request_seq == expected.wrapping_sub(1) {
                        ReconfigResult(self.last_reset_result)
                    } else {
                        ReconfigResult::BAD_SEQUENCE
                    };
                    if result != ReconfigResult::IN_PROGRESS {
                        self.last_reset_result = result.0;
                    }
                    self.reset_response = Some((request_seq, result.0));
                }
                ReconfigParam::Response { response_seq, result } => {
                    let Some(req) = self.reset_inflight.as_ref() else { continue };
                    if req.seq != response_seq {
                        continue;
                    }
                    if result == ReconfigResult::IN_PROGRESS {
                        // The peer waits for our data; ask again after a while.
                        self.arm_reconfig_timer();
                        continue;
                    }
                    let ok = result == ReconfigResult::PERFORMED || result == ReconfigResult::NOTHING_TO_DO;
                    if !ok {
                        tracing::warn!(target: TARGET, result = result.0, "peer refused a stream reset");
                    }
                    let Some(req) = self.reset_inflight.take() else { continue };
                    self.clear_reconfig_timer();
                    for s in req.streams {
                        let out = self.send.stream_mut(s);
                        out.resetting = false;
                        if ok {
                            out.next_ssn = 0;
                            self.push_event(Event::OutgoingStreamReset(s));
                        } else {
                            self.push_event(Event::StreamResetFailed(s));
                        }
                    }
                }
                ReconfigParam::Other { request_seq: Some(seq), .. } => {
                    self.reset_response = Some((seq, ReconfigResult::DENIED.0));
                }
                ReconfigParam::Other { .. } => {}
            }
        }
        Ok(())
    }

    /// Resets the sequence numbers of incoming `stream` and reports it.
    fn reset_incoming(&mut self, stream: u16) {
        self.push_event(Event::IncomingStreamReset(stream));
        let inbound = self.inbound_streams();
        let events = &mut self.events;
        let mut bad_bytes = 0;
        self.recv.reset_stream(stream, &mut |m: super::Message| {
            if m.stream < inbound {
                events.push(Event::Message(m));
            } else {
                bad_bytes += m.data.len();
            }
        });
        self.recv.consumed(bad_bytes);
    }

    /// Performs a deferred incoming reset once its last TSN has arrived.
    pub(super) fn check_deferred_reset(&mut self) {
        let Some(d) = self.deferred_reset.as_ref() else { return };
        if !self.received_up_to(d.last_tsn) || d.seq != self.peer_reset_seq {
            return;
        }
        let Some(d) = self.deferred_reset.take() else { return };
        self.peer_reset_seq = d.seq.wrapping_add(1);
        self.last_reset_result = ReconfigResult::PERFORMED.0;
        for s in d.streams {
            self.reset_incoming(s);
        }
        self.reset_response = Some((d.seq, ReconfigResult::PERFORMED.0));
        let _ = tsn_le;
    }
}
