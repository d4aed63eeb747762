import { expect, test } from './base';
import { ChatPage } from './chat-page';
import { ADMIN, OwnPostgres, OwnServer, StaffPage } from './staff';

// Two replicas on one PostgreSQL database, on two ports: a customer in the window on one, a staff
// member in the panel on the other. Everything either does reaches the other live, through the
// database (LISTEN/NOTIFY), as behind a load balancer.
test('a customer on one replica and staff on another see each other live, the reply streaming included', async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const db = new OwnPostgres();
  const a = new OwnServer(3111, db.url);
  const b = new OwnServer(3112, db.url);
  const customerContext = await browser.newContext();
  const staffContext = await browser.newContext();
  try {
    await Promise.all([a.start(), b.start()]);
    const customer = new ChatPage(await customerContext.newPage());
    const staff = new StaffPage(await staffContext.newPage());
    await staff.signIn(b.base);

    await customer.open(`${a.base}/products/2`);
    const question = `Does the chair come assembled? (${Date.now()})`;
    await customer.send(question);

    // The question reaches B's panel live; staff on B watch A's assistant write its reply.
    const row = staff.inquiry(await customer.chatId());
    await expect(row).toHaveCount(1);
    await row.click();
    await expect(staff.byRole('user').last()).toContainText(question);
    const reply = staff.byRole('assistant').last();
    const grew = await staff.watchUntilComplete(reply, 45_000);
    expect(grew, 'staff on B saw the reply grow').toBeGreaterThanOrEqual(2);
    await expect(customer.byRole('user').last().getByTestId('receipt')).toHaveAttribute('data-mark', 'read');

    // Staff on B take over, type and answer; the customer on A sees each at once.
    await staff.page.getByTestId('take-over').click();
    await expect(customer.page.getByTestId('handoff-banner')).toBeVisible();
    await staff.reply.fill('Hi!');
    await expect(customer.page.getByTestId('typing')).toHaveText(`${ADMIN.name} is typing…`);
    await staff.send('Hi! It ships flat-packed.');
    await expect(customer.contentOf(customer.byRole('agent').last())).toHaveText('Hi! It ships flat-packed.');

    // And back: the customer's answer on A reaches B.
    await customer.send('Great, thanks');
    await expect(staff.byRole('user').last()).toContainText('Great, thanks');
    await expect(staff.byRole('user')).toHaveCount(2);
  } finally {
    await customerContext.close();
    await staffContext.close();
    await a.stop('SIGTERM');
    await b.stop('SIGTERM');
    db.drop();
  }
});
