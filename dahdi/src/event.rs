//! Channel and timer events (`DAHDI_GETEVENT`).
//!
//! The kernel queues up to 64 events per channel. A queued event makes
//! `read` and `write` fail with `ELAST` (errno 500) before they touch any
//! audio, and makes the fd poll with `POLLPRI`; `DAHDI_GETEVENT` takes the
//! oldest one off the queue. Digit events carry the digit in their low
//! bits.

use dahdi_sys as sys;

use crate::c_enum::c_enum;

c_enum! {
    /// One event from a channel's or a timer's queue.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[non_exhaustive]
    pub enum Event {
        /// The line went on hook.
        OnHook = DAHDI_EVENT_ONHOOK,
        /// Ring detected, or the line went off hook (answer).
        RingOffHook = DAHDI_EVENT_RINGOFFHOOK,
        /// A wink or a flash was received.
        WinkFlash = DAHDI_EVENT_WINKFLASH,
        /// The channel entered an alarm state.
        Alarm = DAHDI_EVENT_ALARM,
        /// The channel's alarms cleared.
        NoAlarm = DAHDI_EVENT_NOALARM,
        /// HDLC abort frame.
        Abort = DAHDI_EVENT_ABORT,
        /// HDLC frame overrun.
        Overrun = DAHDI_EVENT_OVERRUN,
        /// HDLC frame with a bad FCS.
        BadFcs = DAHDI_EVENT_BADFCS,
        /// Dialling (`DAHDI_DIAL`) finished.
        DialComplete = DAHDI_EVENT_DIALCOMPLETE,
        /// The ringer turned on (FXO signalling side).
        RingerOn = DAHDI_EVENT_RINGERON,
        /// The ringer turned off.
        RingerOff = DAHDI_EVENT_RINGEROFF,
        /// A hook operation (wink, flash, start) finished in non-blocking mode.
        HookComplete = DAHDI_EVENT_HOOKCOMPLETE,
        /// The received CAS bits changed.
        BitsChanged = DAHDI_EVENT_BITSCHANGED,
        /// The first pulse of a dial-pulse digit.
        PulseStart = DAHDI_EVENT_PULSE_START,
        /// A timer fd expired.
        TimerExpired = DAHDI_EVENT_TIMER_EXPIRED,
        /// A timer fd was pinged (`DAHDI_TIMERPING`).
        TimerPing = DAHDI_EVENT_TIMER_PING,
        /// Polarity reversal.
        Polarity = DAHDI_EVENT_POLARITY,
        /// Ringing began.
        RingBegin = DAHDI_EVENT_RINGBEGIN,
        /// The echo canceller disabled itself (e.g. on a 2100 Hz tone).
        EcDisabled = DAHDI_EVENT_EC_DISABLED,
        /// The channel was removed (its span went away).
        Removed = DAHDI_EVENT_REMOVED,
        /// Neon message-waiting indication turned on.
        NeonMwiActive = DAHDI_EVENT_NEONMWI_ACTIVE,
        /// Neon message-waiting indication turned off.
        NeonMwiInactive = DAHDI_EVENT_NEONMWI_INACTIVE,
        /// Fax CED tone detected on transmit.
        TxCedDetected = DAHDI_EVENT_TX_CED_DETECTED,
        /// Fax CED tone detected on receive.
        RxCedDetected = DAHDI_EVENT_RX_CED_DETECTED,
        /// Fax CNG tone detected on transmit.
        TxCngDetected = DAHDI_EVENT_TX_CNG_DETECTED,
        /// Fax CNG tone detected on receive.
        RxCngDetected = DAHDI_EVENT_RX_CNG_DETECTED,
        /// The echo canceller's non-linear processor was disabled.
        EcNlpDisabled = DAHDI_EVENT_EC_NLP_DISABLED,
        /// The echo canceller's non-linear processor was enabled.
        EcNlpEnabled = DAHDI_EVENT_EC_NLP_ENABLED,
        /// The receive buffers overran (only with `DAHDI_BUFFER_EVENTS`).
        ReadOverrun = DAHDI_EVENT_READ_OVERRUN,
        /// The transmit buffers underran (only with `DAHDI_BUFFER_EVENTS`).
        WriteUnderrun = DAHDI_EVENT_WRITE_UNDERRUN,
    }
    extra {
        /// A dial-pulse digit was received (`DAHDI_EVENT_PULSEDIGIT` with
        /// the digit).
        PulseDigit(char),
        /// A DTMF digit began (hardware detection, `DAHDI_TONEDETECT`;
        /// `DAHDI_EVENT_DTMFDOWN` with the digit).
        DtmfDown(char),
        /// A DTMF digit ended (`DAHDI_EVENT_DTMFUP` with the digit).
        DtmfUp(char),
        /// An event this crate does not know, with its raw value.
        Unknown(i32),
    }
}

/// The flags that mark a digit event; the digit is in the low byte.
const DIGIT_FLAGS: i32 =
    sys::DAHDI_EVENT_PULSEDIGIT | sys::DAHDI_EVENT_DTMFDOWN | sys::DAHDI_EVENT_DTMFUP;

impl Event {
    /// Decodes a `DAHDI_GETEVENT` value; `DAHDI_EVENT_NONE` (0) is `None`.
    pub fn from_raw(raw: i32) -> Option<Event> {
        if raw == sys::DAHDI_EVENT_NONE {
            return None;
        }
        if raw & DIGIT_FLAGS != 0 {
            let digit = char::from((raw & 0xff) as u8);
            return Some(match raw & DIGIT_FLAGS {
                sys::DAHDI_EVENT_PULSEDIGIT => Event::PulseDigit(digit),
                sys::DAHDI_EVENT_DTMFDOWN => Event::DtmfDown(digit),
                sys::DAHDI_EVENT_DTMFUP => Event::DtmfUp(digit),
                _ => Event::Unknown(raw),
            });
        }
        Some(Event::from_c_value(raw).unwrap_or(Event::Unknown(raw)))
    }

    /// The raw `DAHDI_EVENT_*` value (digit events include the digit).
    pub fn to_raw(self) -> i32 {
        match self {
            Event::PulseDigit(d) => sys::DAHDI_EVENT_PULSEDIGIT | (d as u8 as i32),
            Event::DtmfDown(d) => sys::DAHDI_EVENT_DTMFDOWN | (d as u8 as i32),
            Event::DtmfUp(d) => sys::DAHDI_EVENT_DTMFUP | (d as u8 as i32),
            Event::Unknown(raw) => raw,
            plain => plain.c_value().unwrap_or_default(),
        }
    }

    /// The digit of a digit event.
    pub fn digit(self) -> Option<char> {
        match self {
            Event::PulseDigit(d) | Event::DtmfDown(d) | Event::DtmfUp(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_events_round_trip_against_the_constants() {
        // Every plain value the header defines (1..=30) decodes to a named
        // event and encodes back to itself.
        for raw in 1..=sys::DAHDI_EVENT_WRITE_UNDERRUN {
            let e = Event::from_raw(raw).unwrap();
            assert!(!matches!(e, Event::Unknown(_)), "{raw} is unknown");
            assert_eq!(e.to_raw(), raw);
        }
        assert_eq!(Event::from_raw(sys::DAHDI_EVENT_NONE), None);
        assert_eq!(
            Event::from_raw(sys::DAHDI_EVENT_DIALCOMPLETE),
            Some(Event::DialComplete)
        );
        assert_eq!(Event::from_raw(15), Some(Event::TimerExpired));
        assert_eq!(Event::from_raw(16), Some(Event::TimerPing));
        assert_eq!(Event::from_raw(31), Some(Event::Unknown(31)));
    }

    #[test]
    fn digit_events_carry_their_digit() {
        assert_eq!(
            Event::from_raw((1 << 16) | '5' as i32),
            Some(Event::PulseDigit('5'))
        );
        assert_eq!(
            Event::from_raw((1 << 17) | '#' as i32),
            Some(Event::DtmfDown('#'))
        );
        assert_eq!(
            Event::from_raw((1 << 18) | 'A' as i32),
            Some(Event::DtmfUp('A'))
        );
        for d in ['0', '9', '*', '#', 'A', 'D'] {
            for e in [Event::PulseDigit(d), Event::DtmfDown(d), Event::DtmfUp(d)] {
                assert_eq!(Event::from_raw(e.to_raw()), Some(e));
                assert_eq!(e.digit(), Some(d));
            }
        }
    }
}
