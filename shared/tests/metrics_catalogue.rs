//! `shared/metrics.json` lists every metric and reason the functions can emit: each outcome
//! and error of the shared crate's types is in it, for every function that can emit it. (Debug
//! builds also refuse, at the moment of logging, any metric it does not list.)

use shared::error::{AuthError, BodyTooLarge, MalformedBody, Rejection};
use shared::family::FamilyError;
use shared::message::DeliveryOutcome;
use shared::metrics::catalogue::{lists, read};
use shared::metrics::{Emitted, metric_name};
use shared::store::{StatusOutcome, StoreError, VideoOutcome};
use strum::IntoEnumIterator;

fn listed(function: &str, outcome: &str, reason: &str) -> bool {
    lists(&Emitted {
        function: function.to_owned(),
        metric: metric_name(outcome),
        reason: reason.to_owned(),
    })
}

#[test]
fn the_catalogue_names_every_function() {
    let functions: Vec<&str> = read().keys().map(String::as_str).collect();
    assert_eq!(
        functions,
        [
            "email",
            "ingress",
            "notify",
            "receipts",
            "reconcile",
            "session-status",
            "sms",
            "video-call"
        ]
    );
    assert!(!listed("sms", "teleported", ""));
    assert!(!listed("sms", "suppressed", "no-such-reason"));
    // "*" is the provider's error code: any reason.
    assert!(listed("sms", "failed", "InvalidParameter (HTTP 400)"));
}

#[test]
fn every_delivery_outcome_and_error_of_the_senders() {
    let errors = [
        FamilyError::Misrouted(String::new()),
        FamilyError::Invalid(String::new()),
        FamilyError::Store(StoreError::Unavailable(String::new())),
        FamilyError::Send(String::new()),
        FamilyError::Configuration(String::new()),
        FamilyError::ClaimHeld,
    ];
    for function in ["sms", "email"] {
        for outcome in DeliveryOutcome::iter() {
            assert!(
                listed(function, outcome.name(), ""),
                "{function} {outcome:?}"
            );
        }
        for error in &errors {
            assert!(
                listed(function, "error", error.kind()),
                "{function} {error}"
            );
        }
    }
}

#[test]
fn every_outcome_and_error_of_the_recorders() {
    let errors = [
        FamilyError::Misrouted(String::new()),
        FamilyError::Invalid(String::new()),
        FamilyError::Store(StoreError::Refused(String::new())),
    ];
    for outcome in StatusOutcome::iter() {
        assert!(listed("session-status", outcome.name(), ""), "{outcome:?}");
    }
    for outcome in VideoOutcome::iter() {
        assert!(listed("video-call", outcome.name(), ""), "{outcome:?}");
    }
    for function in ["session-status", "video-call"] {
        for error in &errors {
            assert!(
                listed(function, "error", error.kind()),
                "{function} {error}"
            );
        }
    }
}

#[test]
fn every_reason_the_ingress_refuses_a_request_for() {
    for error in [
        AuthError::Missing,
        AuthError::NotAString,
        AuthError::Wrong,
        AuthError::NotConfigured,
    ] {
        assert!(listed("ingress", "unauthorized", error.reason()), "{error}");
    }
    let rejections = [
        Rejection::TooLarge(BodyTooLarge { limit: 1 }),
        Rejection::Malformed(MalformedBody::NotJson),
        Rejection::Malformed(MalformedBody::NotAnObject),
        Rejection::Malformed(MalformedBody::DuplicateKey),
        Rejection::Malformed(MalformedBody::TooManyFields),
        Rejection::Invalid(shared::InvalidField::new(
            "sessionId",
            shared::Problem::Missing,
        )),
    ];
    for rejection in rejections {
        assert!(
            listed("ingress", "rejected", rejection.reason()),
            "{rejection}"
        );
    }
}
