//! Configuration of an RTP session and of its streams.

use alloc::string::String;
use core::time::Duration;

use super::UsageError;
use crate::rtp::ExtensionMap;

/// What a payload type stands for (from SDP `a=rtpmap`, `a=fmtp:… apt=` and `a=rtcp-fb`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Not negotiated.
    #[default]
    None,
    /// A media format.
    Media {
        /// RTP clock rate in Hz.
        clock_rate: u32,
        /// Its RTX payload type (RFC 4588), if retransmission was negotiated for it.
        rtx: Option<u8>,
        /// `a=rtcp-fb:PT nack`: losses are NACKed.
        nack: bool,
        /// `a=rtcp-fb:PT nack pli`: a loss that cannot be repaired asks for a key frame.
        pli: bool,
    },
    /// An RTX payload type (`apt`: the media payload type it repairs).
    Rtx {
        /// The associated (original) payload type.
        apt: u8,
    },
}

/// The payload type table: one [`PayloadFormat`] per payload type 0..=127.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadTypes {
    formats: [PayloadFormat; 128],
}

impl Default for PayloadTypes {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadTypes {
    /// An empty table.
    pub fn new() -> Self {
        Self { formats: [PayloadFormat::None; 128] }
    }

    /// Declares media payload type `pt` at `clock_rate`, with NACK and PLI feedback as given.
    pub fn media(&mut self, pt: u8, clock_rate: u32, nack: bool, pli: bool) -> Result<&mut Self, UsageError> {
        let slot = self.formats.get_mut(usize::from(pt)).ok_or(UsageError::BadPayloadType(pt))?;
        let rtx = match *slot {
            PayloadFormat::Media { rtx, .. } => rtx,
            _ => None,
        };
        *slot = PayloadFormat::Media { clock_rate, rtx, nack, pli };
        Ok(self)
    }

    /// Declares `rtx_pt` as the RTX payload type of media payload type `apt` (declare `apt` first).
    pub fn rtx(&mut self, rtx_pt: u8, apt: u8) -> Result<&mut Self, UsageError> {
        if rtx_pt > 127 {
            return Err(UsageError::BadPayloadType(rtx_pt));
        }
        match self.formats.get_mut(usize::from(apt)) {
            Some(PayloadFormat::Media { rtx, .. }) => *rtx = Some(rtx_pt),
            _ => return Err(UsageError::BadPayloadType(apt)),
        }
        let slot = self.formats.get_mut(usize::from(rtx_pt)).ok_or(UsageError::BadPayloadType(rtx_pt))?;
        *slot = PayloadFormat::Rtx { apt };
        Ok(self)
    }

    /// The format of `pt` ([`PayloadFormat::None`] above 127).
    pub fn get(&self, pt: u8) -> PayloadFormat {
        self.formats.get(usize::from(pt)).copied().unwrap_or_default()
    }

    /// The RTX payload type of media payload type `pt`.
    pub fn rtx_of(&self, pt: u8) -> Option<u8> {
        match self.get(pt) {
            PayloadFormat::Media { rtx, .. } => rtx,
            _ => None,
        }
    }

    /// The media payload type RTX payload type `pt` repairs.
    pub fn apt_of(&self, pt: u8) -> Option<u8> {
        match self.get(pt) {
            PayloadFormat::Rtx { apt } => Some(apt),
            _ => None,
        }
    }
}

/// The minimum interval between regular RTCP reports (RFC 3550 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpMinimum {
    /// The fixed 5 s minimum (2.5 s before the first report).
    Standard,
    /// The reduced minimum of RFC 3550 §6.2, 360 / (session bandwidth in kb/s) seconds, which WebRTC
    /// uses (RFC 8834 §4.1, RFC 8108); half of it before the first report.
    Reduced,
    /// A fixed minimum of the caller's choosing (half of it before the first report).
    Fixed(Duration),
}

/// RTCP reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RtcpConfig {
    /// Session bandwidth in bit/s (SDP `b=AS`/`b=TIAS`); RTCP gets 5 % of it (RFC 3550 §6.2).
    pub session_bandwidth: u64,
    /// The minimum report interval.
    pub minimum: RtcpMinimum,
    /// Reduced-size RTCP (RFC 5506, SDP `a=rtcp-rsize`): feedback (NACK, PLI, FIR, TWCC) goes alone,
    /// without the RR and SDES a compound packet starts with. Regular reports stay compound.
    pub reduced_size: bool,
    /// Send an XR receiver reference time report (RFC 3611 §4.4) with each report, so that a session
    /// that only receives learns the round-trip time from the sender's DLRR answer.
    pub rrtr: bool,
}

impl Default for RtcpConfig {
    fn default() -> Self {
        Self { session_bandwidth: 2_000_000, minimum: RtcpMinimum::Reduced, reduced_size: false, rrtr: true }
    }
}

/// Loss repair on the receiving side: the generic NACK generator (RFC 4585 §6.2.1, RFC 4588 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NackConfig {
    /// How many sequence numbers behind the highest one received a missing packet is tracked (a power of
    /// two, 16..=32768). A packet falling out of the window is given up.
    pub window: usize,
    /// NACKs per missing packet before it is given up.
    pub max_retries: u8,
    /// A missing packet is given up this long after it was found missing, whatever the retries.
    pub max_age: Duration,
    /// How long a gap may be reordering before the first NACK (RFC 4588 §6.3).
    pub reorder_delay: Duration,
    /// The round-trip time assumed until one is measured.
    pub initial_rtt: Duration,
    /// FCI entries (PID + BLP) per NACK packet sent, and the most a received NACK is read for; the rest
    /// of a received NACK is dropped and counted. libwebrtc sends at most 253.
    pub max_fci: usize,
    /// The least time between two key frame requests the session sends by itself for one stream.
    pub keyframe_interval: Duration,
}

impl Default for NackConfig {
    fn default() -> Self {
        Self {
            window: 512,
            max_retries: 10,
            max_age: Duration::from_secs(1),
            reorder_delay: Duration::from_millis(5),
            initial_rtt: Duration::from_millis(100),
            max_fci: 253,
            keyframe_interval: Duration::from_millis(300),
        }
    }
}

/// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01). On
/// when the extension map has [`crate::rtp::ExtensionKind::TransportWideCc`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TwccConfig {
    /// How often feedback is sent while packets arrive.
    pub interval: Duration,
    /// Sent packets remembered for matching feedback (a power of two, 16..=32768).
    pub send_history: usize,
    /// Received sequence numbers remembered until reported (a power of two, 16..=32768).
    pub receive_window: usize,
    /// Packets reported per feedback packet at most (a longer run goes out in several).
    pub max_per_feedback: usize,
}

impl Default for TwccConfig {
    fn default() -> Self {
        Self { interval: Duration::from_millis(100), send_history: 2048, receive_window: 1024, max_per_feedback: 400 }
    }
}

/// What to do with RTP from an SSRC no receive stream was declared for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownSsrcs {
    /// Drop and count it.
    #[default]
    Reject,
    /// Create a receive stream from its payload type's format (until the stream limit), after RFC 3550
    /// probation (two packets in sequence).
    Accept,
}

/// The session's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The SDES CNAME sent in every compound packet (RFC 3550 §6.5.1, RFC 7022); at most 255 octets.
    pub cname: String,
    /// The wall-clock time at [`crate::Instant::ZERO`], as time since the NTP epoch (1900-01-01 UTC).
    /// Sender reports carry `ntp_epoch + now`; the library reads no clock. Round-trip times need only a
    /// steady value; lip synchronisation with other hosts needs the real one.
    pub ntp_epoch: Duration,
    /// The SSRC receiver reports and feedback are sent from; drawn from the session's generator if `None`.
    pub rtcp_ssrc: Option<u32>,
    /// Payload types.
    pub payload_types: PayloadTypes,
    /// Header extension IDs (SDP `a=extmap`); the transport-wide CC mapping turns TWCC on.
    pub extensions: ExtensionMap,
    /// What to do with unknown SSRCs.
    pub unknown_ssrcs: UnknownSsrcs,
    /// Send streams at most.
    pub max_send_streams: usize,
    /// Receive streams at most (declared or accepted).
    pub max_receive_streams: usize,
    /// RTCP reporting.
    pub rtcp: RtcpConfig,
    /// NACK generation.
    pub nack: NackConfig,
    /// Transport-wide CC.
    pub twcc: TwccConfig,
    /// Largest RTCP datagram the session builds (before SRTCP overhead).
    pub mtu: usize,
    /// Events waiting at most; more are dropped and counted.
    pub event_limit: usize,
    /// Datagrams waiting in `poll_transmit` at most; more are dropped and counted.
    pub transmit_limit: usize,
}

impl Config {
    /// A configuration with `cname` and the wall clock at [`crate::Instant::ZERO`] (see
    /// [`Config::ntp_epoch`]), and defaults for the rest: unknown SSRCs rejected, 8 send and 16 receive
    /// streams, reduced minimum RTCP interval at 2 Mb/s, compound RTCP with XR RRTR.
    pub fn new(cname: &str, ntp_epoch: Duration) -> Self {
        Self {
            cname: String::from(cname),
            ntp_epoch,
            rtcp_ssrc: None,
            payload_types: PayloadTypes::new(),
            extensions: ExtensionMap::new(),
            unknown_ssrcs: UnknownSsrcs::Reject,
            max_send_streams: 8,
            max_receive_streams: 16,
            rtcp: RtcpConfig::default(),
            nack: NackConfig::default(),
            twcc: TwccConfig::default(),
            mtu: 1200,
            event_limit: 4096,
            transmit_limit: 512,
        }
    }

    pub(super) fn validate(&self) -> Result<(), UsageError> {
        let pow2 = |n: usize| n.is_power_of_two() && (16..=32768).contains(&n);
        if self.cname.len() > 255 {
            return Err(UsageError::BadConfig("cname longer than 255 octets"));
        }
        if !pow2(self.nack.window) {
            return Err(UsageError::BadConfig("nack.window"));
        }
        if !pow2(self.twcc.send_history) || !pow2(self.twcc.receive_window) {
            return Err(UsageError::BadConfig("twcc window"));
        }
        if self.twcc.max_per_feedback == 0 || self.twcc.interval.is_zero() {
            return Err(UsageError::BadConfig("twcc.max_per_feedback or interval"));
        }
        if self.mtu < 200 {
            return Err(UsageError::BadConfig("mtu below 200"));
        }
        if self.nack.max_fci == 0 {
            return Err(UsageError::BadConfig("nack.max_fci"));
        }
        if self.max_send_streams > 1024 || self.max_receive_streams > 1024 {
            return Err(UsageError::BadConfig("more than 1024 streams"));
        }
        Ok(())
    }
}

/// How much of what a send stream sent is kept for retransmission (RFC 4588).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryConfig {
    /// Packets at most.
    pub max_packets: usize,
    /// Octets of packets at most.
    pub max_bytes: usize,
    /// A packet older than this is no longer retransmitted.
    pub max_age: Duration,
}

impl HistoryConfig {
    /// A history of `max_packets` packets, `max_bytes` octets, kept `max_age`.
    pub fn new(max_packets: usize, max_bytes: usize, max_age: Duration) -> Self {
        Self { max_packets, max_bytes, max_age }
    }
}

impl Default for HistoryConfig {
    /// 1024 packets, 1 MiB, 2 s: enough for a few seconds of HD video.
    fn default() -> Self {
        Self { max_packets: 1024, max_bytes: 1 << 20, max_age: Duration::from_secs(2) }
    }
}

/// A stream this session sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendStreamConfig {
    /// Its SSRC.
    pub ssrc: u32,
    /// The SSRC of its RTX stream (RFC 4588 SSRC multiplexing), if it retransmits.
    pub rtx_ssrc: Option<u32>,
    /// RTP clock rate in Hz (for the RTP timestamp of sender reports).
    pub clock_rate: u32,
    /// The retransmission history (ignored without `rtx_ssrc`).
    pub history: HistoryConfig,
    /// The first sequence number (random if `None`, RFC 3550 §5.1).
    pub initial_sequence: Option<u16>,
}

impl SendStreamConfig {
    /// A video stream at 90 kHz, retransmitting on `rtx_ssrc` if given.
    pub fn video(ssrc: u32, rtx_ssrc: Option<u32>) -> Self {
        Self { ssrc, rtx_ssrc, clock_rate: 90_000, history: HistoryConfig::default(), initial_sequence: None }
    }

    /// An audio stream at `clock_rate`, without retransmission.
    pub fn audio(ssrc: u32, clock_rate: u32) -> Self {
        Self { ssrc, rtx_ssrc: None, clock_rate, history: HistoryConfig::default(), initial_sequence: None }
    }
}

/// A stream this session receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveStreamConfig {
    /// Its SSRC.
    pub ssrc: u32,
    /// The SSRC its retransmissions come from (RFC 4588; SDP `a=ssrc-group:FID`).
    pub rtx_ssrc: Option<u32>,
    /// RTP clock rate in Hz (for interarrival jitter).
    pub clock_rate: u32,
    /// NACK losses (RFC 4585 generic NACK).
    pub nack: bool,
    /// Ask for a key frame (PLI) when a loss cannot be repaired.
    pub keyframe_on_loss: bool,
}

impl ReceiveStreamConfig {
    /// A video stream at 90 kHz with NACK and PLI, repaired from `rtx_ssrc` if given.
    pub fn video(ssrc: u32, rtx_ssrc: Option<u32>) -> Self {
        Self { ssrc, rtx_ssrc, clock_rate: 90_000, nack: true, keyframe_on_loss: true }
    }

    /// An audio stream at `clock_rate`, without NACK.
    pub fn audio(ssrc: u32, clock_rate: u32) -> Self {
        Self { ssrc, rtx_ssrc: None, clock_rate, nack: false, keyframe_on_loss: false }
    }
}
