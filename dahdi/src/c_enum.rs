//! `c_enum!`: one declarative table per C enumeration of `user.h`.
//!
//! Each row names a Rust variant, the `dahdi-sys` constant it stands for and,
//! where the kernel prints the value, the kernel's name for it. From that one
//! table the macro makes the enum, the list of its values
//! ([`all`](crate::Signalling::all)), the checked conversions from and to the
//! C value, the C constant's name and the kernel's name, so that none of them
//! can disagree with another. dahdi-sys's ABI test compiles the C header and
//! checks every table against it (each value, and that no constant of the
//! family is missing).
//!
//! ```text
//! c_enum! {
//!     /// Doc of the enum.
//!     pub enum Law {
//!         /// Doc of the variant.
//!         Default = DAHDI_LAW_DEFAULT,
//!         Mulaw = DAHDI_LAW_MULAW,
//!     }
//! }
//! ```
//!
//! A row may end in `=> "name"`: the kernel's name for the value (what it
//! prints in /proc and sysfs); the enum then gets `from_kernel_name()` and
//! a `table_kernel_name()` for its own `kernel_name()`. After the rows, `unknown Name;` adds a variant
//! `Name(i32)` for values the table does not hold (the conversions are then
//! total), and `extra { ... }` adds variants of the Rust type that are not one
//! C constant (the type converts those itself, with the table's
//! `c_value()`/`from_c_value()` for the rest).

/// One C enumeration as [`c_enum!`] records it, for the ABI test: the Rust
/// type, and each value's C constant name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CEnumTable {
    /// The Rust type.
    pub rust: &'static str,
    /// `(C constant, value)` of every row, in table order.
    pub rows: &'static [(&'static str, i32)],
}

macro_rules! c_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $c:ident $(=> $kernel:literal)?,
            )*
        }
        $(unknown $(#[$umeta:meta])* $unknown:ident;)?
        $(extra { $($(#[$emeta:meta])* $extra:ident($ety:ty),)* })?
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("\n\n`", stringify!($c), "`", $(" (the kernel prints `", $kernel, "`)",)? ".")]
                $variant,
            )*
            $($(#[$umeta])* $unknown(i32),)?
            $($($(#[$emeta])* $extra($ety),)*)?
        }

        #[allow(dead_code)] // not every table needs every conversion
        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),*];

            /// Every value of the C enumeration, in the header's order (the
            /// variants that stand for one C constant).
            pub const fn all() -> &'static [$name] {
                Self::ALL
            }

            /// The name of the C constant this value stands for, `None` for
            /// a variant that stands for no single constant.
            #[allow(unreachable_patterns)]
            pub const fn c_name(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some(stringify!($c)),)*
                    _ => None,
                }
            }

            /// The C value of a variant that stands for one constant.
            #[allow(unreachable_patterns)]
            pub(crate) const fn c_value(self) -> Option<i32> {
                match self {
                    $($name::$variant => Some(::dahdi_sys::$c),)*
                    _ => None,
                }
            }

            /// The variant of the table whose C value is `raw`.
            pub(crate) fn from_c_value(raw: i32) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.c_value() == Some(raw))
            }

            /// The table, for dahdi-sys's ABI test.
            #[doc(hidden)]
            pub const C_TABLE: $crate::c_enum::CEnumTable = $crate::c_enum::CEnumTable {
                rust: stringify!($name),
                rows: &[$((stringify!($c), ::dahdi_sys::$c)),*],
            };
        }

        c_enum!(@conversions $name { $($variant = $c,)* } $($unknown)? ; $($($extra)*)?);
        c_enum!(@kernel $name { $($variant $(=> $kernel)?,)* });
    };

    // No variant beyond the table: checked both ways.
    (@conversions $name:ident { $($variant:ident = $c:ident,)* } ; ) => {
        impl $name {
            /// The C value.
            pub const fn to_raw(self) -> i32 {
                match self {
                    $($name::$variant => ::dahdi_sys::$c,)*
                }
            }

            /// The variant for a C value, `None` if the table has no such
            /// value.
            pub fn from_raw(raw: i32) -> Option<$name> {
                Self::from_c_value(raw)
            }
        }
    };
    // A catch-all variant: total both ways.
    (@conversions $name:ident { $($variant:ident = $c:ident,)* } $unknown:ident ; ) => {
        impl $name {
            /// The C value (an unknown value as it came).
            pub const fn to_raw(self) -> i32 {
                match self {
                    $($name::$variant => ::dahdi_sys::$c,)*
                    $name::$unknown(raw) => raw,
                }
            }

            /// The variant for a C value; a value the table does not hold
            #[doc = concat!("is kept in [`", stringify!($unknown), "`](Self::", stringify!($unknown), ").")]
            pub fn from_raw(raw: i32) -> $name {
                Self::from_c_value(raw).unwrap_or($name::$unknown(raw))
            }
        }
    };
    // Extra variants: the type converts them itself.
    (@conversions $name:ident { $($variant:ident = $c:ident,)* } $($unknown:ident)? ; $($extra:ident)+) => {};

    // Kernel names, when every row has one.
    (@kernel $name:ident { $($variant:ident => $kernel:literal,)* }) => {
        impl $name {
            /// The kernel's name for the value, as it prints it in
            /// `/proc/dahdi` and sysfs; `None` for a variant that stands for
            /// no C constant.
            #[allow(unreachable_patterns)]
            pub(crate) const fn table_kernel_name(self) -> Option<&'static str> {
                match self {
                    $($name::$variant => Some($kernel),)*
                    _ => None,
                }
            }

            /// The value the kernel prints as `name`.
            pub fn from_kernel_name(name: &str) -> Option<$name> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.table_kernel_name() == Some(name))
            }
        }
    };
    // No kernel names.
    (@kernel $name:ident { $($variant:ident,)* }) => {};
}
pub(crate) use c_enum;

#[cfg(test)]
mod tests {
    use crate::{BufferPolicy, ConfKind, DialOp, Event, Hook, Law, Signalling, Tone};

    /// Every table converts each of its values to C and back, and names
    /// its C constant; the C values are distinct.
    #[test]
    fn tables_round_trip() {
        macro_rules! checked {
            ($($t:ident),*) => {$(
                for &v in $t::all() {
                    assert_eq!($t::from_raw(v.to_raw()), Some(v), "{v:?}");
                    assert_eq!(v.c_value(), Some(v.to_raw()));
                    assert!(v.c_name().unwrap().starts_with("DAHDI_"));
                }
                let mut raw: Vec<i32> = $t::all().iter().map(|v| v.to_raw()).collect();
                raw.sort_unstable();
                raw.dedup();
                assert_eq!(raw.len(), $t::all().len(), stringify!($t));
            )*};
        }
        checked!(Law, Hook, BufferPolicy, DialOp);
        assert_eq!(Law::from_raw(3), None);
        assert_eq!(Hook::RingOff.c_name(), Some("DAHDI_RINGOFF"));

        for &v in ConfKind::all() {
            assert_eq!(ConfKind::from_raw(v.to_raw()), v);
        }
        assert_eq!(ConfKind::from_raw(13), ConfKind::Unknown(13));
        assert_eq!(ConfKind::Unknown(13).to_raw(), 13);
        for &v in Signalling::all() {
            assert_eq!(Signalling::from_raw(v.to_raw()), v);
        }
        for &v in Event::all() {
            assert_eq!(Event::from_raw(v.to_raw()), Some(v));
        }
        assert_eq!(Event::PulseDigit('1').c_name(), None);
        for &v in Tone::all() {
            assert_eq!(Tone::from_c_value(v.to_raw().unwrap()), Some(v));
        }
        assert_eq!(Tone::Dtmf('5').c_name(), None);
    }
}
