//! Channel and timer events (`DAHDI_GETEVENT`).
//!
//! The kernel queues up to 64 events per channel. A queued event makes
//! `read` and `write` fail with `ELAST` (errno 500) before they touch any
//! audio, and makes the fd poll with `POLLPRI`; `DAHDI_GETEVENT` takes the
//! oldest one off the queue. Digit events carry the digit in their low
//! bits.

use dahdi_sys as sys;

/// One event from a channel's or a timer's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Event {
    /// The line went on hook.
    OnHook,
    /// Ring detected, or the line went off hook (answer).
    RingOffHook,
    /// A wink or a flash was received.
    WinkFlash,
    /// The channel entered an alarm state.
    Alarm,
    /// The channel's alarms cleared.
    NoAlarm,
    /// HDLC abort frame.
    Abort,
    /// HDLC frame overrun.
    Overrun,
    /// HDLC frame with a bad FCS.
    BadFcs,
    /// Dialling (`DAHDI_DIAL`) finished.
    DialComplete,
    /// The ringer turned on (FXO signalling side).
    RingerOn,
    /// The ringer turned off.
    RingerOff,
    /// A hook operation (wink, flash, start) finished in non-blocking mode.
    HookComplete,
    /// The received CAS bits changed.
    BitsChanged,
    /// The first pulse of a dial-pulse digit.
    PulseStart,
    /// A timer fd expired.
    TimerExpired,
    /// A timer fd was pinged (`DAHDI_TIMERPING`).
    TimerPing,
    /// Polarity reversal.
    Polarity,
    /// Ringing began.
    RingBegin,
    /// The echo canceller disabled itself (e.g. on a 2100 Hz tone).
    EcDisabled,
    /// The channel was removed (its span went away).
    Removed,
    /// Neon message-waiting indication turned on.
    NeonMwiActive,
    /// Neon message-waiting indication turned off.
    NeonMwiInactive,
    /// Fax CED tone detected on transmit.
    TxCedDetected,
    /// Fax CED tone detected on receive.
    RxCedDetected,
    /// Fax CNG tone detected on transmit.
    TxCngDetected,
    /// Fax CNG tone detected on receive.
    RxCngDetected,
    /// The echo canceller's non-linear processor was disabled.
    EcNlpDisabled,
    /// The echo canceller's non-linear processor was enabled.
    EcNlpEnabled,
    /// The receive buffers overran (only with `DAHDI_BUFFER_EVENTS`).
    ReadOverrun,
    /// The transmit buffers underran (only with `DAHDI_BUFFER_EVENTS`).
    WriteUnderrun,
    /// A dial-pulse digit was received.
    PulseDigit(char),
    /// A DTMF digit began (hardware detection, `DAHDI_TONEDETECT`).
    DtmfDown(char),
    /// A DTMF digit ended.
    DtmfUp(char),
    /// An event this crate does not know, with its raw value.
    Unknown(i32),
}

const DIGIT_FLAGS: i32 =
    sys::DAHDI_EVENT_PULSEDIGIT | sys::DAHDI_EVENT_DTMFDOWN | sys::DAHDI_EVENT_DTMFUP;

impl Event {
    /// Decodes a `DAHDI_GETEVENT` value; `DAHDI_EVENT_NONE` (0) is `None`.
    pub fn from_raw(raw: i32) -> Option<Event> {
        use Event::*;
        if raw & DIGIT_FLAGS != 0 {
            let digit = char::from((raw & 0xff) as u8);
            return Some(match raw & DIGIT_FLAGS {
                sys::DAHDI_EVENT_PULSEDIGIT => PulseDigit(digit),
                sys::DAHDI_EVENT_DTMFDOWN => DtmfDown(digit),
                sys::DAHDI_EVENT_DTMFUP => DtmfUp(digit),
                _ => Unknown(raw),
            });
        }
        Some(match raw {
            sys::DAHDI_EVENT_NONE => return None,
            sys::DAHDI_EVENT_ONHOOK => OnHook,
            sys::DAHDI_EVENT_RINGOFFHOOK => RingOffHook,
            sys::DAHDI_EVENT_WINKFLASH => WinkFlash,
            sys::DAHDI_EVENT_ALARM => Alarm,
            sys::DAHDI_EVENT_NOALARM => NoAlarm,
            sys::DAHDI_EVENT_ABORT => Abort,
            sys::DAHDI_EVENT_OVERRUN => Overrun,
            sys::DAHDI_EVENT_BADFCS => BadFcs,
            sys::DAHDI_EVENT_DIALCOMPLETE => DialComplete,
            sys::DAHDI_EVENT_RINGERON => RingerOn,
            sys::DAHDI_EVENT_RINGEROFF => RingerOff,
            sys::DAHDI_EVENT_HOOKCOMPLETE => HookComplete,
            sys::DAHDI_EVENT_BITSCHANGED => BitsChanged,
            sys::DAHDI_EVENT_PULSE_START => PulseStart,
            sys::DAHDI_EVENT_TIMER_EXPIRED => TimerExpired,
            sys::DAHDI_EVENT_TIMER_PING => TimerPing,
            sys::DAHDI_EVENT_POLARITY => Polarity,
            sys::DAHDI_EVENT_RINGBEGIN => RingBegin,
            sys::DAHDI_EVENT_EC_DISABLED => EcDisabled,
            sys::DAHDI_EVENT_REMOVED => Removed,
            sys::DAHDI_EVENT_NEONMWI_ACTIVE => NeonMwiActive,
            sys::DAHDI_EVENT_NEONMWI_INACTIVE => NeonMwiInactive,
            sys::DAHDI_EVENT_TX_CED_DETECTED => TxCedDetected,
            sys::DAHDI_EVENT_RX_CED_DETECTED => RxCedDetected,
            sys::DAHDI_EVENT_TX_CNG_DETECTED => TxCngDetected,
            sys::DAHDI_EVENT_RX_CNG_DETECTED => RxCngDetected,
            sys::DAHDI_EVENT_EC_NLP_DISABLED => EcNlpDisabled,
            sys::DAHDI_EVENT_EC_NLP_ENABLED => EcNlpEnabled,
            sys::DAHDI_EVENT_READ_OVERRUN => ReadOverrun,
            sys::DAHDI_EVENT_WRITE_UNDERRUN => WriteUnderrun,
            other => Unknown(other),
        })
    }

    /// The raw `DAHDI_EVENT_*` value (digit events include the digit).
    pub fn to_raw(self) -> i32 {
        use Event::*;
        match self {
            OnHook => sys::DAHDI_EVENT_ONHOOK,
            RingOffHook => sys::DAHDI_EVENT_RINGOFFHOOK,
            WinkFlash => sys::DAHDI_EVENT_WINKFLASH,
            Alarm => sys::DAHDI_EVENT_ALARM,
            NoAlarm => sys::DAHDI_EVENT_NOALARM,
            Abort => sys::DAHDI_EVENT_ABORT,
            Overrun => sys::DAHDI_EVENT_OVERRUN,
            BadFcs => sys::DAHDI_EVENT_BADFCS,
            DialComplete => sys::DAHDI_EVENT_DIALCOMPLETE,
            RingerOn => sys::DAHDI_EVENT_RINGERON,
            RingerOff => sys::DAHDI_EVENT_RINGEROFF,
            HookComplete => sys::DAHDI_EVENT_HOOKCOMPLETE,
            BitsChanged => sys::DAHDI_EVENT_BITSCHANGED,
            PulseStart => sys::DAHDI_EVENT_PULSE_START,
            TimerExpired => sys::DAHDI_EVENT_TIMER_EXPIRED,
            TimerPing => sys::DAHDI_EVENT_TIMER_PING,
            Polarity => sys::DAHDI_EVENT_POLARITY,
            RingBegin => sys::DAHDI_EVENT_RINGBEGIN,
            EcDisabled => sys::DAHDI_EVENT_EC_DISABLED,
            Removed => sys::DAHDI_EVENT_REMOVED,
            NeonMwiActive => sys::DAHDI_EVENT_NEONMWI_ACTIVE,
            NeonMwiInactive => sys::DAHDI_EVENT_NEONMWI_INACTIVE,
            TxCedDetected => sys::DAHDI_EVENT_TX_CED_DETECTED,
            RxCedDetected => sys::DAHDI_EVENT_RX_CED_DETECTED,
            TxCngDetected => sys::DAHDI_EVENT_TX_CNG_DETECTED,
            RxCngDetected => sys::DAHDI_EVENT_RX_CNG_DETECTED,
            EcNlpDisabled => sys::DAHDI_EVENT_EC_NLP_DISABLED,
            EcNlpEnabled => sys::DAHDI_EVENT_EC_NLP_ENABLED,
            ReadOverrun => sys::DAHDI_EVENT_READ_OVERRUN,
            WriteUnderrun => sys::DAHDI_EVENT_WRITE_UNDERRUN,
            PulseDigit(d) => sys::DAHDI_EVENT_PULSEDIGIT | (d as u8 as i32),
            DtmfDown(d) => sys::DAHDI_EVENT_DTMFDOWN | (d as u8 as i32),
            DtmfUp(d) => sys::DAHDI_EVENT_DTMFUP | (d as u8 as i32),
            Unknown(raw) => raw,
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
