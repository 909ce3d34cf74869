//! Errors of the simulator and its probe node.

use core::fmt;
use core::net::IpAddr;

/// A mistake in setting up a simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// The address is already used by a host or NAT on that network.
    AddressInUse(IpAddr),
    /// The NAT does not exist.
    UnknownNat,
    /// A host needs at least one address.
    NoAddress,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::AddressInUse(ip) => write!(f, "address {ip} already in use on that network"),
            SimError::UnknownNat => f.write_str("no such NAT"),
            SimError::NoAddress => f.write_str("a host needs at least one address"),
        }
    }
}

impl core::error::Error for SimError {}

/// Why a [`crate::sim::Probe`] rejected a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeError {
    /// Not a `ping` or `pong` message.
    Malformed,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Malformed => f.write_str("malformed probe message"),
        }
    }
}

impl core::error::Error for ProbeError {}

/// Why a [`crate::sim::Connected`] machine rejected a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectedError<E> {
    /// It came from another address than the bound remote, or went to another local address.
    WrongPeer,
    /// The machine rejected it.
    Machine(E),
}

impl<E: fmt::Display> fmt::Display for ConnectedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectedError::WrongPeer => f.write_str("datagram from or to an address the binding does not use"),
            ConnectedError::Machine(e) => write!(f, "{e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for ConnectedError<E> {}
