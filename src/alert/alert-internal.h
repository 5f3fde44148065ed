/* alert-internal.h — what the alerter thread uses from notify.c. */
#pragma once

#include "alert/alert.h"

/* Queues one mail listing alerts[0..n) of total to [alerts] mail_to and kicks the mailer.
 * 0 when there is nobody to tell. */
KURA_MUST_CHECK int alert_mail(const struct kura_alerter_opts *o, const struct kura_alert *alerts,
                               size_t n, size_t total);
/* POSTs the list to [alerts] webhook_url (see alert.h). 0 when no webhook is configured;
 * KURA_EUNSUPPORTED for a failed transfer or a non-2xx answer, logged with the reason. */
KURA_MUST_CHECK int alert_webhook(const struct kura_conf *conf, const struct kura_alert *alerts,
                                  size_t n, size_t total);
