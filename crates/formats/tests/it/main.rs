//! Integration tests of the format readers: the broken-delivery corpus and real samples.

mod broken;
mod currency;
mod focus;
mod gcp;
mod layout;
mod oci;
mod shared;
