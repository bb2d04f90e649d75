//! Guest suite "dahdi": the safe `dahdi` crate on the real driver, with
//! `dahdi_dynamic` + `dahdi_dynamic_loc` (looped spans, no hardware),
//! `dahdi_echocan_mg2`, and dahdi-tools (dahdi_cfg, dahdi_scan) to
//! cross-check against. The module is loaded with auto_assign_spans=1.
//!
//! Tests run in order, each in its own process, sharing the kernel: every
//! test that creates spans, zones or conferences removes them again.
//! Expected values come from the kernel source (cited), from sysfs,
//! /proc/dahdi and dahdi-tools' output, never from this crate.
//!
//! One module per area (pseudo channels, conferences, spans, audio and
//! signalling across looped spans, dahdi_cfg, lsdahdi), over the fixtures
//! and channel I/O they share; the list in `main` is the order the tests
//! run in.

mod channel_io;
mod conferences;
mod dahdi_tools;
mod fixtures;
mod lsdahdi;
mod pseudo;
mod span_audio;
mod span_signalling;
mod spans;
mod system_conf;

use dahdi::{Ctl, ErrorKind, Pseudo, Sysfs, Tone};

use conferences::{
    conference_modes, monitoring_a_pseudo_channel_is_refused,
    moving_to_another_conference_hears_nothing_of_the_first, real_and_pseudo_conference,
    reused_conference_slot_is_heard_silent,
};
use lsdahdi::{lsdahdi_agrees_with_dahdi_tools, lsdahdi_command_line};
use pseudo::{
    blocksize_and_buffer_policies, gains, law_and_linear_block_sizes,
    missing_devices_read_as_instructions, pseudo_numbers_and_params, timers,
    tones_dialling_and_events, version_and_echo_cancellers, when_full_policy_holds_audio_back,
};
use span_audio::{audio_crosses_the_loop, monitor_and_digitalmon_on_span_channels};
use span_signalling::{
    cas_bits_cross_the_loop, em_wink_crosses_the_loop, hook_signalling_crosses_the_loop,
};
use spans::{
    alarms_follow_the_peer, echo_canceller, loc_spans_agree_with_sysfs_proc_and_dahdi_scan,
    simulated_alarms_on_a_loc_span, span_assignment_through_sysfs, spanconfig_startup_shutdown,
    unassigned_until_assigned_with_auto_assign_off, unconfigured_nonblocking_and_buffer_events,
};
use system_conf::{dahdi_cfg_configuration_reads_back, spans_example_matches_dahdi_cfg};

/// The kernel is left as found: no spans, no devices.
fn nothing_left_behind() {
    let ctl = Ctl::open().unwrap();
    assert!(ctl.spans().unwrap().is_empty());
    assert!(Sysfs::new().devices().unwrap().is_empty());
    let p = Pseudo::open().unwrap();
    assert_eq!(p.tone_zone().unwrap(), 0);
    assert_eq!(
        p.send_tone(Tone::Busy).unwrap_err().kind(),
        &ErrorKind::NoToneZone
    );
}

fn main() {
    dahdi_tests::guest::guest_main(dahdi_tests::guest_tests![
        version_and_echo_cancellers,
        missing_devices_read_as_instructions,
        pseudo_numbers_and_params,
        blocksize_and_buffer_policies,
        when_full_policy_holds_audio_back,
        law_and_linear_block_sizes,
        conference_modes,
        reused_conference_slot_is_heard_silent,
        moving_to_another_conference_hears_nothing_of_the_first,
        monitoring_a_pseudo_channel_is_refused,
        timers,
        gains,
        tones_dialling_and_events,
        loc_spans_agree_with_sysfs_proc_and_dahdi_scan,
        audio_crosses_the_loop,
        monitor_and_digitalmon_on_span_channels,
        real_and_pseudo_conference,
        hook_signalling_crosses_the_loop,
        em_wink_crosses_the_loop,
        cas_bits_cross_the_loop,
        alarms_follow_the_peer,
        simulated_alarms_on_a_loc_span,
        unconfigured_nonblocking_and_buffer_events,
        spanconfig_startup_shutdown,
        echo_canceller,
        span_assignment_through_sysfs,
        unassigned_until_assigned_with_auto_assign_off,
        dahdi_cfg_configuration_reads_back,
        spans_example_matches_dahdi_cfg,
        lsdahdi_agrees_with_dahdi_tools,
        lsdahdi_command_line,
        nothing_left_behind,
    ]);
}
