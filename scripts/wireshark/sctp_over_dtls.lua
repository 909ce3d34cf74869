-- SCTP over DTLS (RFC 8261), as WebRTC data channels carry it, for Wireshark and tshark:
--   tshark -X lua_script:scripts/wireshark/sctp_over_dtls.lua -r capture.pcapng -Y rtcdc
-- Wireshark decrypts DTLS with the key log a sansrtc capture embeds (or any key log), but does not try
-- SCTP on the decrypted data by itself; this heuristic hands it to the SCTP dissector when the payload
-- starts with an SCTP common header whose two ports are equal (5000 in WebRTC, RFC 8841 a=sctp-port) and
-- whose first chunk is a known type.
local sctp = Dissector.get("sctp")
local proto = Proto("sctp_over_dtls", "SCTP over DTLS (heuristic)")

local function heuristic(tvb, pinfo, tree)
  if tvb:len() < 16 then
    return false
  end
  local src, dst, chunk = tvb(0, 2):uint(), tvb(2, 2):uint(), tvb(12, 1):uint()
  -- Chunk types: RFC 9260 (0x00-0x0e), RFC 4895 (0x0f AUTH), RFC 5061 (0x80, 0xc1 ASCONF), RFC 6525 (0x82
  -- RE-CONFIG), RFC 3758 (0xc0 FORWARD-TSN).
  local known = chunk <= 0x0f or chunk == 0x80 or chunk == 0x82 or chunk == 0xc0 or chunk == 0xc1
  if src ~= dst or src == 0 or not known then
    return false
  end
  sctp:call(tvb, pinfo, tree)
  return true
end

proto:register_heuristic("dtls", heuristic)
