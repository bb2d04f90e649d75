//! Object identifiers of PKCS#7 messages, as the kernel's OID registry knows them
//! (include/linux/oid_registry.h).

use const_oid::ObjectIdentifier as Oid;

/// pkcs7-signedData.
pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// pkcs7-data.
pub const DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// Microsoft Authenticode SpcIndirectDataContent.
pub const MS_INDIRECT_DATA: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.4");

/// MD4.
pub const MD4: Oid = Oid::new_unwrap("1.2.840.113549.2.4");
/// MD5.
pub const MD5: Oid = Oid::new_unwrap("1.2.840.113549.2.5");
/// SHA-1.
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// SHA-224.
pub const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
/// SHA-256.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384.
pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512.
pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// SHA3-256.
pub const SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.8");
/// SHA3-384.
pub const SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.9");
/// SHA3-512.
pub const SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.10");
/// SM3.
pub const SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.401");
/// GOST R 34.11-2012 (Streebog), 256 bits.
pub const STREEBOG256: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.2");
/// GOST R 34.11-2012 (Streebog), 512 bits.
pub const STREEBOG512: Oid = Oid::new_unwrap("1.2.643.7.1.1.2.3");

/// rsaEncryption.
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// ecdsa-with-SHA1.
pub const ECDSA_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
/// ecdsa-with-SHA224.
pub const ECDSA_SHA224: Oid = Oid::new_unwrap("1.2.840.10045.4.3.1");
/// ecdsa-with-SHA256.
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384.
pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// ecdsa-with-SHA512.
pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
/// id-ecdsa-with-sha3-256.
pub const ECDSA_SHA3_256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.10");
/// id-ecdsa-with-sha3-384.
pub const ECDSA_SHA3_384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.11");
/// id-ecdsa-with-sha3-512.
pub const ECDSA_SHA3_512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.12");
/// GOST R 34.10-2012, 256 bits.
pub const GOST2012_PKEY256: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.1");
/// GOST R 34.10-2012, 512 bits.
pub const GOST2012_PKEY512: Oid = Oid::new_unwrap("1.2.643.7.1.1.1.2");
/// SM2 with SM3 (accepted by kernels 5.10 to 6.5).
pub const SM2_WITH_SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.501");
/// ML-DSA-44.
pub const ML_DSA_44: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.17");
/// ML-DSA-65.
pub const ML_DSA_65: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.18");
/// ML-DSA-87.
pub const ML_DSA_87: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.3.19");

/// contentType attribute.
pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// messageDigest attribute.
pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// signingTime attribute.
pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// smimeCapabilities attribute.
pub const SMIME_CAPABILITIES: Oid = Oid::new_unwrap("1.2.840.113549.1.9.15");
/// Microsoft SpOpusInfo attribute.
pub const MS_SP_OPUS_INFO: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.12");
/// Microsoft StatementType attribute.
pub const MS_STATEMENT_TYPE: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.11");

/// commonName.
pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
